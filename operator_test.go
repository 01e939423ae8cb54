package posgate_test

import (
	"errors"
	"testing"

	"github.com/posgate/posgate"
)

func TestCheckOperatorName(t *testing.T) {
	for _, name := range []string{"alice", "a", "ops-1", "night_shift", "0day", "abcdefghijklmnopqrstuvwxyz012345"} {
		if err := posgate.CheckOperatorName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	// ':' and '.' would split a bearer credential and a session cookie.
	for _, name := range []string{"", "admin", "Alice", "a:b", "a.b", "-x", "_x", "a b", "abcdefghijklmnopqrstuvwxyz0123456", "é"} {
		if err := posgate.CheckOperatorName(name); !errors.Is(err, posgate.ErrInvalid) {
			t.Errorf("%q: got %v, want ErrInvalid", name, err)
		}
	}
}
