package termproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// A run of MinPANDigits to MaxPANDigits digits could be a card number
// (ISO/IEC 7812). Progress and result frames holding one anywhere are
// refused: a terminal sends at most the first 6 and last 4 digits.
const (
	MinPANDigits = 13
	MaxPANDigits = 19
)

// ErrPAN is why a frame that may hold a full card number is refused. It
// never quotes the digits, so they stay out of every log.
var ErrPAN = errors.New("a field holds 13 to 19 digits in a row, which could be a full card number; " +
	"send at most its first 6 and last 4 digits (card_masked_pan)")

// numericFields are the top-level fields whose numbers are times and
// counters, not card data ("at" is 13 digits of Unix milliseconds).
var numericFields = map[string]bool{
	"time": true, "version": true, "heartbeat_ms": true, "server_time": true,
	"seq": true, "timeout_ms": true, "at": true,
}

// refusePAN walks every token of the frame, keys and values at any depth,
// known fields or not, and returns ErrPAN when a string or a number (other
// than a known numeric field's) holds a run that could be a card number.
// The Luhn check digit is deliberately not consulted: a mistyped or
// partly garbled number is still cardholder data, and a terminal has no
// reason to send 13 to 19 digits in a row.
func refusePAN(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	// containers[i] is true for an object; expectKey[i] says whether the
	// object's next string is a key.
	var containers, expectKey []bool
	key := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // json.Unmarshal has parsed the frame; nothing more to see
		}
		depth := len(containers)
		inObject := depth > 0 && containers[depth-1]
		isKey := false
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if inObject {
					expectKey[depth-1] = true
				}
				containers, expectKey = append(containers, v == '{'), append(expectKey, true)
			default:
				containers, expectKey = containers[:depth-1], expectKey[:depth-1]
			}
			continue
		case string:
			isKey = inObject && expectKey[depth-1]
			if isKey {
				key = v
			}
			if !(depth == 1 && !isKey && key == "card_aid" && registeredAID(v)) && holdsPAN(v) {
				return ErrPAN
			}
		case json.Number:
			if !(depth == 1 && numericFields[key]) && holdsPAN(string(v)) {
				return ErrPAN
			}
		}
		if inObject {
			expectKey[depth-1] = !isKey
		}
	}
}

// registeredAID reports whether s looks like an EMV application id: hex
// starting with the registration category A (international) or D
// (national) of ISO/IEC 7816-5. Real AIDs hold long digit runs (Visa's
// A0000000031010 has 13, girocard's D27600002547410100 has 17), so the
// scan cannot read card_aid; the leading letter keeps a bare card number
// out of it.
func registeredAID(s string) bool {
	if s == "" || (s[0] != 'A' && s[0] != 'a' && s[0] != 'D' && s[0] != 'd') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// holdsPAN reports whether s may hold a card number: a run of 13 to 19
// digits, or a card number as people write it, groups of at least 3
// digits joined by single spaces or hyphens ("4111 1111 1111 1111",
// "3782-822463-10005") that add up to 13 to 19 digits and stand alone: no
// letter, digit, hyphen or underscore right before or after. Longer runs
// (a 20-digit acquirer reference) are not card numbers, and neither are
// the hyphenated groups of a UUID, which always touch a hex letter or a
// hyphen.
func holdsPAN(s string) bool {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	word := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		c := s[i]
		return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_'
	}
	type group struct{ from, to int } // s[from:to] is a maximal run of digits
	var chain []group
	// standsAlone: the chain is a written card number.
	standsAlone := func() bool {
		if len(chain) < 2 {
			return false
		}
		total := 0
		for _, g := range chain {
			total += g.to - g.from
		}
		return total >= MinPANDigits && total <= MaxPANDigits && !word(chain[0].from-1) && !word(chain[len(chain)-1].to)
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			continue
		}
		g := group{from: i}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		g.to = i
		n := g.to - g.from
		if n >= MinPANDigits && n <= MaxPANDigits {
			return true
		}
		if len(chain) > 0 {
			last := chain[len(chain)-1]
			if n >= 3 && g.from == last.to+1 && (s[last.to] == ' ' || s[last.to] == '-') {
				chain = append(chain, g)
				continue
			}
			if standsAlone() {
				return true
			}
			chain = chain[:0]
		}
		if n >= 3 {
			chain = append(chain, g)
		}
	}
	return standsAlone()
}
