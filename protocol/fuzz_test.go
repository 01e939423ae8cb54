package protocol

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"strings"
	"testing"
)

// The seed corpus is committed under testdata/fuzz/<FuzzName>/.

func FuzzDecodeRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			if c := ErrorCode(err); c != CodeBadEnvelope && c != CodeInvalidField {
				t.Fatalf("error code %s: %v", c, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON: %q", body)
		}
		lower := map[string]string{}
		for _, m := range []map[string]string{r.Top, r.Data} {
			for k, v := range m {
				if !isName(k) {
					t.Fatalf("key %q is not a name", k)
				}
				if prev, dup := lower[strings.ToLower(k)]; dup {
					t.Fatalf("keys %q and %q collide", prev, k)
				}
				lower[strings.ToLower(k)] = k
				if ambiguous(v) {
					t.Fatalf("%s=%q is ambiguous", k, v)
				}
			}
		}
		for _, k := range []string{"sign", "data"} {
			if _, ok := r.Top[k]; ok {
				t.Fatalf("%s in Top", k)
			}
		}
		if r.User != r.Top["user"] || r.Method != r.Top["method"] || r.Time != r.Top["time"] {
			t.Fatal("User/Method/Time differ from Top")
		}
		s := r.StringToSign()
		if s2 := r.StringToSign(); s2 != s {
			t.Fatalf("StringToSign not deterministic: %q vs %q", s, s2)
		}

		// Re-encode every value as a JSON string: the string to sign must
		// not change, which is what lets a client sign "12.50" or 12.50.
		obj := map[string]any{}
		for k, v := range r.Top {
			obj[k] = v
		}
		// Only re-add sign and data when the body had them: adding them
		// could otherwise create a case twin ("SIGN" in data, "Data" on top).
		if r.Sign != "" {
			obj["sign"] = r.Sign
		}
		if len(r.Data) > 0 {
			obj["data"] = r.Data
		}
		again, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRequest(again)
		if err != nil {
			t.Fatalf("re-encoded body rejected: %v\n%s", err, again)
		}
		if got := r2.StringToSign(); got != s {
			t.Fatalf("re-encoded string to sign\n got %q\nwant %q", got, s)
		}
		if r2.Sign != r.Sign {
			t.Fatalf("sign %q became %q", r.Sign, r2.Sign)
		}
	})
}

// separator matches where a field starts inside a string to sign. It is
// written independently of the package's guard, so the fuzz test below
// proves that guard sufficient: if a value could smuggle in a separator,
// parsing would not give back the map that was signed.
var separator = regexp.MustCompile(`&[A-Za-z0-9_]+=`)

func parseStringToSign(s string) map[string]string {
	out := map[string]string{}
	if s == "" {
		return out
	}
	s = "&" + s
	starts := separator.FindAllStringIndex(s, -1)
	for i, m := range starts {
		end := len(s)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		out[s[m[0]+1:m[1]-1]] = s[m[1]:end]
	}
	return out
}

// fieldsFrom splits fuzz input into alternating keys and values at NUL.
func fieldsFrom(raw string) []string {
	return strings.Split(raw, "\x00")
}

func FuzzStringToSign(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		parts := fieldsFrom(raw)
		m := map[string]string{}
		for i := 0; i+1 < len(parts); i += 2 {
			k, v := parts[i], parts[i+1]
			if isName(k) && !ambiguous(v) {
				m[k] = v
			}
		}
		s := StringToSign(m)
		if got := parseStringToSign(s); !maps.Equal(got, m) {
			t.Fatalf("%q parses back as\n%q, want\n%q", s, got, m)
		}
	})
}

func FuzzMarshal(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string, num float64) {
		// json.Marshal replaces invalid UTF-8, so compare against valid text.
		parts := fieldsFrom(strings.ToValidUTF8(raw, "\uFFFD"))
		m := map[string]string{}
		for i := 0; i+1 < len(parts); i += 2 {
			m[parts[i]] = parts[i+1]
		}
		out, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string][]byte{"raw": out, "urldecoded": phpURLDecode(out)} {
			if !json.Valid(body) {
				t.Fatalf("%s: not valid JSON: %s", name, body)
			}
			var back map[string]string
			if err := json.Unmarshal(body, &back); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !maps.Equal(back, m) {
				t.Fatalf("%s: round trip\n got %q\nwant %q", name, back, m)
			}
		}
		if i := bytes.IndexAny(out, "+%"); i >= 0 {
			t.Fatalf("raw %q in %s", out[i], out)
		}

		if math.IsNaN(num) || math.IsInf(num, 0) {
			return
		}
		out, err = Marshal(map[string]any{"n": num, "s": raw})
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) || bytes.ContainsAny(out, "+%") {
			t.Fatalf("number %v: %s", num, out)
		}
		var back struct{ N float64 }
		if err := json.Unmarshal(phpURLDecode(out), &back); err != nil || back.N != num {
			t.Fatalf("number %v came back as %v (%v): %s", num, back.N, err, out)
		}
	})
}
