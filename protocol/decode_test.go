package protocol

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestDecodeRequestAccepts(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		top    map[string]string
		data   map[string]string
		sign   string
		toSign string
		user   string
		method string
		time   string
	}{
		{
			name: "numbers exactly as written",
			body: `{"user":"T1","sign":"s","method":"v3.POS","time":1555498137,"data":{"a":12.50,"b":1e3,"c":-0,"d":12345678901234567890123,"e":1E+3,"f":-1.5e-7,"g":0.10}}`,
			top:  map[string]string{"user": "T1", "method": "v3.POS", "time": "1555498137"},
			data: map[string]string{"a": "12.50", "b": "1e3", "c": "-0", "d": "12345678901234567890123", "e": "1E+3", "f": "-1.5e-7", "g": "0.10"},
			sign: "s", user: "T1", method: "v3.POS", time: "1555498137",
			toSign: "a=12.50&b=1e3&c=-0&d=12345678901234567890123&e=1E+3&f=-1.5e-7&g=0.10&method=v3.POS&time=1555498137&user=T1",
		},
		{
			name:   "true is 1, false and null are empty",
			body:   `{"t":true,"data":{"f":false,"n":null}}`,
			top:    map[string]string{"t": "1"},
			data:   map[string]string{"f": "", "n": ""},
			toSign: "f=&n=&t=1",
		},
		{
			name:   "strings raw, spaces and non-ASCII kept, escapes decoded",
			body:   `{"data":{"description":"Café  au lait 中文 ","q":"say \"hi\"\\","u":"\u00e9\t","p":"a+b%20c","e":""}}`,
			top:    map[string]string{},
			data:   map[string]string{"description": "Café  au lait 中文 ", "q": `say "hi"\`, "u": "é\t", "p": "a+b%20c", "e": ""},
			toSign: "description=Café  au lait 中文 &e=&p=a+b%20c&q=say \"hi\"\\&u=é\t",
		},
		{
			name:   "extra top-level fields are signed, sign and data are not",
			body:   `{"user":"T1","sign":"abc","extra":"x","version":3,"data":{"tid":"T1"}}`,
			top:    map[string]string{"user": "T1", "extra": "x", "version": "3"},
			data:   map[string]string{"tid": "T1"},
			sign:   "abc",
			user:   "T1",
			toSign: "extra=x&tid=T1&user=T1&version=3",
		},
		{
			name:   "byte order: digits, upper case, underscore, lower case",
			body:   `{"c":"1","data":{"a":"2","B":"3","_x":"4","9":"5","a_b":"6","ab":"7"}}`,
			top:    map[string]string{"c": "1"},
			data:   map[string]string{"a": "2", "B": "3", "_x": "4", "9": "5", "a_b": "6", "ab": "7"},
			toSign: "9=5&B=3&_x=4&a=2&a_b=6&ab=7&c=1",
		},
		{
			name:   "data null or absent",
			body:   `{"user":"T1","data":null}`,
			top:    map[string]string{"user": "T1"},
			data:   map[string]string{},
			user:   "T1",
			toSign: "user=T1",
		},
		{
			name:   "empty object",
			body:   " \n{ }\r\n\t",
			top:    map[string]string{},
			data:   map[string]string{},
			toSign: "",
		},
		{
			name:   "values with & that cannot be read as a field",
			body:   `{"data":{"a":"a & b","b":"a&","c":"&&","d":"a&=b","e":"R&D","f":"&","g":"x&y z=1","h":"a=b","i":"&é=1","j":"&-x=1","k":"x \u0026 y"}}`,
			top:    map[string]string{},
			data:   map[string]string{"a": "a & b", "b": "a&", "c": "&&", "d": "a&=b", "e": "R&D", "f": "&", "g": "x&y z=1", "h": "a=b", "i": "&é=1", "j": "&-x=1", "k": "x & y"},
			toSign: "a=a & b&b=a&&c=&&&d=a&=b&e=R&D&f=&&g=x&y z=1&h=a=b&i=&é=1&j=&-x=1&k=x & y",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tc.body))
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if !maps.Equal(r.Top, tc.top) {
				t.Errorf("Top = %q, want %q", r.Top, tc.top)
			}
			if !maps.Equal(r.Data, tc.data) {
				t.Errorf("Data = %q, want %q", r.Data, tc.data)
			}
			if r.Sign != tc.sign || r.User != tc.user || r.Method != tc.method || r.Time != tc.time {
				t.Errorf("sign/user/method/time = %q/%q/%q/%q, want %q/%q/%q/%q",
					r.Sign, r.User, r.Method, r.Time, tc.sign, tc.user, tc.method, tc.time)
			}
			if got := r.StringToSign(); got != tc.toSign {
				t.Errorf("StringToSign\n got %q\nwant %q", got, tc.toSign)
			}
		})
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		code Code
	}{
		{"empty body", ``, CodeBadEnvelope},
		{"whitespace only", " \n ", CodeBadEnvelope},
		{"not JSON", `user=T1&sign=x`, CodeBadEnvelope},
		{"byte order mark", "\xef\xbb\xbf{}", CodeBadEnvelope},
		{"top-level array", `[{"user":"T1"}]`, CodeBadEnvelope},
		{"top-level empty array", `[]`, CodeBadEnvelope},
		{"top-level string", `"{\"user\":\"T1\"}"`, CodeBadEnvelope},
		{"top-level number", `42`, CodeBadEnvelope},
		{"top-level null", `null`, CodeBadEnvelope},
		{"top-level true", `true`, CodeBadEnvelope},
		{"truncated object", `{"user":"T1"`, CodeBadEnvelope},
		{"truncated data", `{"data":{"tid":"T1"}`, CodeBadEnvelope},
		{"trailing comma", `{"user":"T1",}`, CodeBadEnvelope},
		{"missing comma", `{"user":"T1" "time":1}`, CodeBadEnvelope},
		{"missing colon", `{"user" "T1"}`, CodeBadEnvelope},
		{"single quotes", `{'user':'T1'}`, CodeBadEnvelope},
		{"bad escape", `{"user":"\x"}`, CodeBadEnvelope},
		{"leading zero", `{"time":01}`, CodeBadEnvelope},
		{"NaN", `{"time":NaN}`, CodeBadEnvelope},
		{"trailing garbage", `{"user":"T1"} x`, CodeBadEnvelope},
		{"trailing second object", `{"user":"T1"}{}`, CodeBadEnvelope},
		{"trailing brace", `{"user":"T1"}}`, CodeBadEnvelope},
		{"data is a string", `{"data":"x"}`, CodeBadEnvelope},
		{"data is a number", `{"data":1}`, CodeBadEnvelope},
		{"data is a boolean", `{"data":true}`, CodeBadEnvelope},
		{"data is an array", `{"data":[{"tid":"T1"}]}`, CodeBadEnvelope},
		{"nested object in data", `{"data":{"a":{"b":1}}}`, CodeInvalidField},
		{"nested array in data", `{"data":{"a":[1]}}`, CodeInvalidField},
		{"empty nested object in data", `{"data":{"a":{}}}`, CodeInvalidField},
		{"nested object at top level", `{"extra":{"b":1}}`, CodeInvalidField},
		{"nested array at top level", `{"extra":[]}`, CodeInvalidField},
		{"sign is an object", `{"sign":{}}`, CodeInvalidField},
		{"deep nesting", `{"a":` + strings.Repeat("[", 1<<20), CodeInvalidField},
		{"duplicate top-level key", `{"user":"a","user":"a"}`, CodeInvalidField},
		{"duplicate sign", `{"sign":"a","sign":"b"}`, CodeInvalidField},
		{"duplicate data", `{"data":{"a":"1"},"data":null}`, CodeInvalidField},
		{"duplicate data key", `{"data":{"a":"1","a":"2"}}`, CodeInvalidField},
		{"duplicate across levels", `{"user":"T1","data":{"user":"T2"}}`, CodeInvalidField},
		{"duplicate across levels, data first", `{"data":{"user":"T2"},"user":"T1"}`, CodeInvalidField},
		{"sign inside data", `{"sign":"a","data":{"sign":"b"}}`, CodeInvalidField},
		{"data inside data", `{"data":{"data":"x"}}`, CodeInvalidField},
		{"case twins in data", `{"data":{"Trade_ID":"a","trade_id":"a"}}`, CodeInvalidField},
		{"case twins at top level", `{"time":1,"TIME":1}`, CodeInvalidField},
		{"case twins across levels", `{"User":"T1","data":{"user":"T1"}}`, CodeInvalidField},
		{"case twin of sign", `{"sign":"a","SIGN":"b"}`, CodeInvalidField},
		{"case twin of data", `{"Data":"x","data":{}}`, CodeInvalidField},
		{"case twin of data, data first", `{"data":{},"DATA":"x"}`, CodeInvalidField},
		{"empty key", `{"":"x"}`, CodeInvalidField},
		{"key with dash", `{"data":{"trade-id":"x"}}`, CodeInvalidField},
		{"key with dot", `{"a.b":"x"}`, CodeInvalidField},
		{"key with space", `{"data":{"trade id":"x"}}`, CodeInvalidField},
		{"key with =", `{"data":{"a=b":"x"}}`, CodeInvalidField},
		{"key with &", `{"data":{"a&b":"x"}}`, CodeInvalidField},
		{"key with NUL", `{"data":{"a\u0000":"x"}}`, CodeInvalidField},
		{"non-ASCII key", `{"data":{"café":"x"}}`, CodeInvalidField},
		{"ambiguous value", `{"data":{"description":"x&demo=y"}}`, CodeInvalidField},
		{"ambiguous value at top level", `{"user":"T1&tid=T2"}`, CodeInvalidField},
		{"ambiguous value, escaped &", `{"data":{"description":"x\u0026demo=y"}}`, CodeInvalidField},
		{"ambiguous value at start", `{"data":{"d":"&a="}}`, CodeInvalidField},
		{"ambiguous after a harmless &", `{"data":{"d":"a & b&c=d"}}`, CodeInvalidField},
		{"ambiguous after &&", `{"data":{"d":"&&a=1"}}`, CodeInvalidField},
		{"ambiguous underscore name", `{"data":{"d":"x&_=1"}}`, CodeInvalidField},
		{"ambiguous digit name", `{"data":{"d":"x&9=1"}}`, CodeInvalidField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tc.body))
			if err == nil {
				t.Fatalf("accepted, signing %q", r.StringToSign())
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if pe.Code != tc.code || ErrorCode(err) != tc.code {
				t.Errorf("code %s (%v), want %s", pe.Code, err, tc.code)
			}
			if pe.Msg == "" {
				t.Error("empty message")
			}
		})
	}
}

// TestAmbiguityGuardReason shows the collision the guard exists for: without
// it these two requests would carry the same signature.
func TestAmbiguityGuardReason(t *testing.T) {
	a := StringToSign(map[string]string{"a": "x&demo=y"})
	b := StringToSign(map[string]string{"a": "x", "demo": "y"})
	if a != b {
		t.Fatalf("expected a collision, got %q and %q", a, b)
	}
	if _, err := DecodeRequest([]byte(`{"data":{"a":"x&demo=y"}}`)); ErrorCode(err) != CodeInvalidField {
		t.Fatalf("ambiguous request: err = %v", err)
	}
	if _, err := DecodeRequest([]byte(`{"data":{"a":"x","demo":"y"}}`)); err != nil {
		t.Fatalf("plain request: %v", err)
	}
}

func TestErrorCode(t *testing.T) {
	if got := ErrorCode(errors.New("boom")); got != CodeInternal {
		t.Errorf("plain error: %s", got)
	}
	if got := ErrorCode(nil); got != CodeInternal {
		t.Errorf("nil: %s", got)
	}
	wrapped := errors.Join(errors.New("ctx"), Errorf(CodeTIDMismatch, "tid %q", "T2"))
	if got := ErrorCode(wrapped); got != CodeTIDMismatch {
		t.Errorf("wrapped: %s", got)
	}
	if got := Errorf(CodeTIDMismatch, "tid %q", "T2").Error(); got != `-3004: tid "T2"` {
		t.Errorf("Error() = %q", got)
	}
}
