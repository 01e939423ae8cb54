package protocol

import "testing"

const seedRequest = `{
"user": "T125119061",
"sign": "81617629b3f26a88ec7cdf8f4b989fa0368d40be34969af3958cbcb94289c544",
"method": "v3.POSReversal",
"time": 1555498137,
"data": {
"tid": "T125119061",
"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121",
"request_id": "a7z1lox4l6z6mdx1udgn5gtezasze1x0"
}
}`

const seedStringToSign = "method=v3.POSReversal&request_id=a7z1lox4l6z6mdx1udgn5gtezasze1x0&tid=T125119061&time=1555498137&trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121&user=T125119061"

func TestSeedStringToSign(t *testing.T) {
	r, err := DecodeRequest([]byte(seedRequest))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.StringToSign(); got != seedStringToSign {
		t.Fatalf("string to sign\n got %s\nwant %s", got, seedStringToSign)
	}
}
