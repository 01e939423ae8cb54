package protocol

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"net/url"
	"strings"
	"testing"
)

// phpURLDecode does what PHP's urldecode does to a notification body before
// the official SDK parses it: '+' becomes a space and %XX the byte XX; a '%'
// not followed by two hex digits stays as it is.
func phpURLDecode(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			out = append(out, ' ')
		case s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, s[i])
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func TestPHPURLDecodeMatchesQueryUnescape(t *testing.T) {
	for _, s := range []string{"", "a+b", "%41%2b%2B%25", "caf%C3%A9+%26", "100%"} {
		want, err := url.QueryUnescape(s)
		if err != nil {
			want = s // PHP leaves a malformed escape alone where Go refuses it
		}
		if got := string(phpURLDecode([]byte(s))); got != want {
			t.Errorf("phpURLDecode(%q) = %q, want %q", s, got, want)
		}
	}
}

// checkMarshalled asserts the properties every Marshal output needs on the
// wire: valid JSON, no byte urldecode would change, and the same JSON after
// urldecode.
func checkMarshalled(t *testing.T, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("not valid JSON: %s", out)
	}
	if i := bytes.IndexAny(out, "+%"); i >= 0 {
		t.Fatalf("raw %q at %d: %s", out[i], i, out)
	}
	if dec := phpURLDecode(out); !bytes.Equal(dec, out) {
		t.Fatalf("urldecode changes the body:\n%s\n%s", out, dec)
	}
}

func TestMarshalStrings(t *testing.T) {
	in := map[string]string{
		"plus":     "a+b",
		"percent":  "50%",
		"escape":   "%2B%41",
		"both":     "+%+%",
		"html":     "<a href='x'>&amp;</a>",
		"quotes":   `say "hi" \+ \%`,
		"unicode":  "Café 中文 \u2028 😀",
		"control":  "\x00\t\n",
		"a+b%c":    "key with both",
		"empty":    "",
		"trailing": "100%",
	}
	out, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	checkMarshalled(t, out)
	for _, want := range []string{`"a\u002bb"`, `"50\u0025"`, `"a\u002bb\u0025c"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %s: %s", want, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back, in) {
		t.Fatalf("round trip\n got %q\nwant %q", back, in)
	}
}

func TestMarshalWithoutSpecialBytesIsJSONMarshal(t *testing.T) {
	v := Response{Status: true, Code: CodeOK, Data: map[string]string{"a": "b"}, ResponseID: "r1"}
	want, _ := json.Marshal(v)
	got, err := Marshal(v)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %s, %v; want %s", got, err, want)
	}
	const wantJSON = `{"status":true,"code":"200","data":{"a":"b"},"message":"","response_id":"r1"}`
	if string(got) != wantJSON {
		t.Fatalf("envelope = %s, want %s", got, wantJSON)
	}
}

// TestMarshalNumbers covers '+' outside strings: json.Marshal writes large
// and tiny floats as 1e+21, where \u002b would break the JSON.
func TestMarshalNumbers(t *testing.T) {
	in := map[string]any{
		"big":    1e21,
		"tiny":   1e-7,
		"max":    math.MaxFloat64,
		"neg":    -1.5e300,
		"number": json.Number("1E+3"),
		"int":    12345678901234567,
		"s":      "1e+21",
		"raw":    json.RawMessage(`{"x": 2E+2, "y": "+%"}`),
	}
	out, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	checkMarshalled(t, out)
	var back map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"big": 1e21, "tiny": 1e-7, "max": math.MaxFloat64, "neg": -1.5e300, "number": 1e3} {
		got, err := back[k].(json.Number).Float64()
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", k, back[k], err, want)
		}
	}
	if back["int"] != json.Number("12345678901234567") || back["s"] != "1e+21" {
		t.Errorf("int, s = %v, %v", back["int"], back["s"])
	}
	raw := back["raw"].(map[string]any)
	if x, _ := raw["x"].(json.Number).Float64(); x != 200 || raw["y"] != "+%" {
		t.Errorf("raw = %v", raw)
	}
}

func TestMarshalError(t *testing.T) {
	if _, err := Marshal(map[string]any{"f": math.NaN()}); err == nil {
		t.Fatal("NaN marshalled")
	}
	if _, err := Marshal(make(chan int)); err == nil {
		t.Fatal("channel marshalled")
	}
}

// TestNotificationSurvivesPHPSDK is the notification as a PHP merchant
// receives it: the SDK urldecodes the raw body, parses the JSON and checks
// the signature over the data fields.
func TestNotificationSurvivesPHPSDK(t *testing.T) {
	const secret = vectorKey
	data := map[string]string{
		"type":           "payment",
		"user":           "T125119061",
		"amount":         "12.50",
		"currency":       "EUR",
		"trade_id":       "4a49ffb3-a30f-ba92-9422-1969afb6f121",
		"description":    `Café 5% + tip & "more" 中文`,
		"order_id":       "280244567856723026",
		"createDate":     "1706771212",
		"demo":           "a+b=c %41",
		"transaction_id": "",
		"state":          "paid",
	}
	body, err := Marshal(Notification{Sign: SignFields(secret, data), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	checkMarshalled(t, body)

	var got Notification
	if err := json.Unmarshal(phpURLDecode(body), &got); err != nil {
		t.Fatalf("after urldecode: %v\n%s", err, body)
	}
	if !maps.Equal(got.Data, data) {
		t.Fatalf("data after urldecode\n got %q\nwant %q", got.Data, data)
	}
	if !Verify(secret, StringToSign(got.Data), got.Sign) {
		t.Fatal("signature over the decoded data does not verify")
	}

	// The same body from plain json.Marshal would reach the merchant with
	// "+" turned into a space and the signature broken: why Marshal exists.
	plain, _ := json.Marshal(Notification{Sign: SignFields(secret, data), Data: data})
	var broken Notification
	if json.Unmarshal(phpURLDecode(plain), &broken) == nil && maps.Equal(broken.Data, data) {
		t.Fatal("plain json.Marshal survived urldecode; the test data no longer exercises Marshal")
	}
}

func TestMarshalEscapesEveryOccurrence(t *testing.T) {
	s := strings.Repeat("+%", 1000)
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	checkMarshalled(t, out)
	var back string
	if err := json.Unmarshal(out, &back); err != nil || back != s {
		t.Fatalf("round trip: %v", err)
	}
}
