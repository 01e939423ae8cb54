package termproto

import (
	"crypto/rand"
	"fmt"
	"testing"
)

func TestHoldsPAN(t *testing.T) {
	for _, s := range []string{
		"4111111111111111", "4111111111111112", "4222222222222", "6011000990139424000", "x4111111111111111y",
		"4111 1111 1111 1111", "4111-1111-1111-1111", "card 4111 1111 1111 1112 declined", "3782 822463 10005",
		"3056-930902-5904", "(4111 1111 1111 1111)", "12 4111 1111 1111 1111", "4111 1111 1111 1111 12",
	} {
		if !holdsPAN(s) {
			t.Errorf("%q: not seen as a card number", s)
		}
	}
	for _, s := range []string{
		"", "411111******1111", "123456789012", "SIM12345678901234567890", "12345678901234567890",
		"12 items - 2026-11-30 12:00", "1 2 3 4 5 6 7 8 9 10 11 12 13", "4111 1111 1111", "4111 1111 1111 1111 1111",
		// UUIDs: hyphenated groups that always touch a hex letter or a hyphen.
		"12345678-1234-1234-1234-123456789012", "abcd1234-5678-9012-3456-abcdef123456", "01934567-8901-7234-8234-123456789abc",
		"1234abcd-1234-5678-9012-345678901234", "ref 1234-5678-9012-3456-abc", "id_4111-1111-1111-1111",
	} {
		if holdsPAN(s) {
			t.Errorf("%q: taken for a card number", s)
		}
	}
}

// TestHoldsPANNeverTakesAUUID: the ids the cloud gives commands (and that
// acquirers often use as references) are never refused, whatever their
// hex digits.
func TestHoldsPANNeverTakesAUUID(t *testing.T) {
	b := make([]byte, 16)
	for range 200_000 {
		rand.Read(b)
		for i := range b {
			if b[i]%8 != 0 { // mostly all-digit bytes: the hard case
				b[i] = (b[i]>>4%10)<<4 | b[i]&0xf%10
			}
		}
		u := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		if holdsPAN(u) {
			t.Fatalf("%s taken for a card number", u)
		}
	}
}
