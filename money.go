package posgate

import (
	"fmt"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 currency as posgate handles it.
type Currency struct {
	Code   string
	Digits int   // minor-unit digits
	Min    int64 // smallest payment amount in minor units
}

// currencies lists the ISO 4217 currencies posgate accepts, with their
// minor digits and the smallest payment amount. EUR and CNY minimums are
// YabandPay's; the others follow EUR's 0.10 rule scaled to the digits.
var currencies = map[string]Currency{
	"EUR": {"EUR", 2, 10},
	"CNY": {"CNY", 2, 100},
	"USD": {"USD", 2, 10},
	"GBP": {"GBP", 2, 10},
	"CHF": {"CHF", 2, 10},
	"SEK": {"SEK", 2, 100},
	"NOK": {"NOK", 2, 100},
	"DKK": {"DKK", 2, 100},
	"PLN": {"PLN", 2, 50},
	"CZK": {"CZK", 2, 300},
	"HUF": {"HUF", 2, 3000},
	"JPY": {"JPY", 0, 10},
	"HKD": {"HKD", 2, 100},
	"AUD": {"AUD", 2, 10},
	"CAD": {"CAD", 2, 10},
}

// LookupCurrency finds an ISO 4217 code (upper case only).
func LookupCurrency(code string) (Currency, bool) {
	c, ok := currencies[code]
	return c, ok
}

// maxMinor bounds amounts far below int64 overflow: 10^13 minor units.
const maxMinor = 10_000_000_000_000

// ParseAmount parses a decimal string in major units ("12.5", "0.10", "1")
// into minor units. It accepts at most the currency's minor digits, no
// sign, no exponent, no spaces, no leading '+'.
func ParseAmount(s string, c Currency) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("amount %q is not a decimal number", s)
	}
	if len(frac) > c.Digits {
		return 0, fmt.Errorf("amount %q has more than %d decimal digits for %s", s, c.Digits, c.Code)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number", s)
			}
		}
	}
	if len(intPart) > 13 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	whole, _ := strconv.ParseInt(intPart, 10, 64)
	v := whole
	for i := 0; i < c.Digits; i++ {
		v *= 10
		if i < len(frac) {
			v += int64(frac[i] - '0')
		}
	}
	if v > maxMinor {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	return v, nil
}

// FormatAmount prints minor units with exactly the currency's minor digits.
func FormatAmount(minor int64, c Currency) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if c.Digits > 0 {
		for len(s) <= c.Digits {
			s = "0" + s
		}
		s = s[:len(s)-c.Digits] + "." + s[len(s)-c.Digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
