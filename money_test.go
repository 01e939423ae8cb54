package posgate

import "testing"

func TestParseAndFormatAmount(t *testing.T) {
	eur, _ := LookupCurrency("EUR")
	jpy, _ := LookupCurrency("JPY")
	for in, want := range map[string]int64{"12.5": 1250, "0.10": 10, "1": 100, "24.99": 2499, "0": 0, "007.00": 700} {
		if got, err := ParseAmount(in, eur); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.005", "-1", "+1", "1e2", " 1", "1 ", ".5", "5.", "1,00", "0x10", "١٢", "99999999999999"} {
		if _, err := ParseAmount(bad, eur); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseAmount("1.5", jpy); err == nil {
		t.Error("JPY has no minor digits")
	}
	for minor, want := range map[int64]string{1250: "12.50", 10: "0.10", 5: "0.05", 0: "0.00", 100000: "1000.00"} {
		if got := FormatAmount(minor, eur); got != want {
			t.Errorf("%d: %q, want %q", minor, got, want)
		}
	}
	if got := FormatAmount(1500, jpy); got != "1500" {
		t.Errorf("JPY: %q", got)
	}
}
