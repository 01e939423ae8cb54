package protocol

import (
	"encoding/hex"
	"strings"
	"testing"
)

const (
	vectorKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	// vectorSign was computed outside Go, so it pins the algorithm rather
	// than whatever our code happens to do:
	//   printf '%s' "$seedStringToSign" | openssl dgst -sha256 -hmac "$vectorKey"
	vectorSign = "a5dc722c13f79a8ea9079b50c96a68cefadd553360f324b6b3d35e334054d3ab"
)

func TestSignVector(t *testing.T) {
	if got := Sign(vectorKey, seedStringToSign); got != vectorSign {
		t.Fatalf("Sign = %s, want %s", got, vectorSign)
	}
	fields := map[string]string{
		"user": "T125119061", "method": "v3.POSReversal", "time": "1555498137",
		"tid": "T125119061", "trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121",
		"request_id": "a7z1lox4l6z6mdx1udgn5gtezasze1x0",
	}
	if got := SignFields(vectorKey, fields); got != vectorSign {
		t.Fatalf("SignFields = %s, want %s", got, vectorSign)
	}
}

// TestSeedRequestVerifies runs the whole path a request takes: decode the
// seed's body, re-signed under a known key, and verify it.
func TestSeedRequestVerifies(t *testing.T) {
	body := strings.Replace(seedRequest, "81617629b3f26a88ec7cdf8f4b989fa0368d40be34969af3958cbcb94289c544", vectorSign, 1)
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.User != "T125119061" || r.Method != "v3.POSReversal" || r.Time != "1555498137" || r.Sign != vectorSign {
		t.Fatalf("envelope = %q/%q/%q/%q", r.User, r.Method, r.Time, r.Sign)
	}
	if r.Data["tid"] != "T125119061" || r.Data["trade_id"] != "4a49ffb3-a30f-ba92-9422-1969afb6f121" || r.Data["request_id"] != "a7z1lox4l6z6mdx1udgn5gtezasze1x0" {
		t.Fatalf("data = %q", r.Data)
	}
	if !Verify(vectorKey, r.StringToSign(), r.Sign) {
		t.Fatal("seed request does not verify")
	}
	if Verify(vectorKey+"0", r.StringToSign(), r.Sign) {
		t.Fatal("verifies under another key")
	}
}

// TestSeedFieldOrderIrrelevant: the string to sign must not depend on the
// order or layout the client wrote the fields in.
func TestSeedFieldOrderIrrelevant(t *testing.T) {
	body := `{"data":{"request_id":"a7z1lox4l6z6mdx1udgn5gtezasze1x0","trade_id":"4a49ffb3-a30f-ba92-9422-1969afb6f121","tid":"T125119061"},` +
		`"time":1555498137,"method":"v3.POSReversal","sign":"x","user":"T125119061"}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.StringToSign(); got != seedStringToSign {
		t.Fatalf("string to sign\n got %s\nwant %s", got, seedStringToSign)
	}
}

func TestStringToSign(t *testing.T) {
	tests := []struct {
		fields map[string]string
		want   string
	}{
		{nil, ""},
		{map[string]string{}, ""},
		{map[string]string{"a": ""}, "a="},
		{map[string]string{"b": "2", "a": "1"}, "a=1&b=2"},
		{map[string]string{"a": "x y+z%20&", "b": "中文"}, "a=x y+z%20&&b=中文"},
	}
	for _, tc := range tests {
		if got := StringToSign(tc.fields); got != tc.want {
			t.Errorf("StringToSign(%q) = %q, want %q", tc.fields, got, tc.want)
		}
	}
}

func TestSignFormat(t *testing.T) {
	for _, s := range []string{"", "a", seedStringToSign} {
		got := Sign("k", s)
		if len(got) != 64 || strings.ToLower(got) != got || strings.Trim(got, "0123456789abcdef") != "" {
			t.Errorf("Sign(%q) = %q: not 64 lower-case hex digits", s, got)
		}
		if !Verify("k", s, got) {
			t.Errorf("Sign(%q) does not verify", s)
		}
	}
}

func TestVerify(t *testing.T) {
	rawDigest, err := hex.DecodeString(vectorSign)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sign string
		want bool
	}{
		{"lower case", vectorSign, true},
		{"upper case", strings.ToUpper(vectorSign), true},
		{"mixed case", strings.ToUpper(vectorSign[:32]) + vectorSign[32:], true},
		{"empty", "", false},
		{"one digit short", vectorSign[:63], false},
		{"one byte short", vectorSign[:62], false},
		{"one byte long", vectorSign + "00", false},
		{"doubled", vectorSign + vectorSign, false},
		{"non-hex digit", "g" + vectorSign[1:], false},
		{"leading space", " " + vectorSign[1:], false},
		{"trailing newline", vectorSign + "\n", false},
		{"0x prefix", "0x" + vectorSign[2:], false},
		{"raw digest bytes", string(rawDigest), false},
		{"signature of another string", Sign(vectorKey, seedStringToSign+"&"), false},
	}
	for _, tc := range tests {
		if got := Verify(vectorKey, seedStringToSign, tc.sign); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Every single-digit change anywhere must fail, including the last one.
	for i := range len(vectorSign) {
		b := []byte(vectorSign)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		if Verify(vectorKey, seedStringToSign, string(b)) {
			t.Errorf("digit %d changed: still verifies", i)
		}
	}
	if Verify(vectorKey, strings.Replace(seedStringToSign, "T125119061", "T125119062", 1), vectorSign) {
		t.Error("changed string still verifies")
	}
}
