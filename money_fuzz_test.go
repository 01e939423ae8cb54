package posgate

import (
	"strings"
	"testing"
)

// FuzzParseAmount: amounts come from outsiders (amount, tip_amount,
// refund_amount). Parsing never panics, accepts only plain decimals with
// at most the currency's digits, and what it accepts prints back to a
// string that parses to the same minor units.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0.1", "1", "0.10", "1.005", "-1", "1e2", "+1", " 1", "9999999999999.99", "", ".5", "5."} {
		f.Add(s, "EUR")
	}
	f.Add("100", "JPY")
	f.Add("1.5", "JPY")
	f.Fuzz(func(t *testing.T, s, code string) {
		cur, ok := LookupCurrency(code)
		if !ok {
			cur = currencies["EUR"]
		}
		v, err := ParseAmount(s, cur)
		if err != nil {
			return
		}
		if v < 0 || v > maxMinor {
			t.Fatalf("%q parsed to %d, outside [0, %d]", s, v, int64(maxMinor))
		}
		if strings.ContainsAny(s, "+-eE ") {
			t.Fatalf("%q accepted", s)
		}
		back, err := ParseAmount(FormatAmount(v, cur), cur)
		if err != nil || back != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, FormatAmount(v, cur), back, err)
		}
	})
}
