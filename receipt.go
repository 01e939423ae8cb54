package posgate

import (
	"fmt"
	"regexp"
)

// EntryMode is how the card was read.
type EntryMode string

const (
	EntryContactless EntryMode = "contactless"
	EntryChip        EntryMode = "chip"
	EntrySwipe       EntryMode = "swipe"
)

// EntryModes lists every entry mode.
var EntryModes = []EntryMode{EntryContactless, EntryChip, EntrySwipe}

// Receipt is what a card receipt needs from the terminal's result: never
// the full card number. Every field is optional (an older terminal sends
// none); a field that is set must pass CheckReceipt.
type Receipt struct {
	// CardBrand is the scheme as the terminal names it ("Visa",
	// "Mastercard", "girocard"): free short text, because schemes are an
	// open set and refusing an approval over an unknown name would strand
	// the customer's money.
	CardBrand string
	// MaskedPAN shows at most the first 6 and the last 4 digits.
	MaskedPAN string
	EntryMode EntryMode
	AuthCode  string // the issuer's authorisation (approval) code
	AID       string // EMV application id, hex; required for chip
}

// IsZero reports whether the terminal sent no receipt data.
func (r Receipt) IsZero() bool { return r == Receipt{} }

var (
	// maskedPAN: the first 6 digits or none, 3 to 15 asterisks, the last
	// 4 digits; at most 19 characters, the longest PAN.
	maskedPAN = regexp.MustCompile(`^(?:[0-9]{6})?\*{3,15}[0-9]{4}$`)
	cardBrand = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 .&-]{0,23}$`)
	authCode  = regexp.MustCompile(`^[A-Za-z0-9]{1,12}$`)
	aid       = regexp.MustCompile(`^[AaDd][0-9A-Fa-f](?:[0-9A-Fa-f]{2}){4,15}$`)
)

// CheckReceipt decides whether a terminal's receipt data may be recorded:
// a brand of 1 to 24 letters, digits, spaces or ".&-"; a masked PAN of the
// first 6 digits (or none), 3 to 15 asterisks and the last 4 digits, 19
// characters at most; a known entry mode; an authorisation code of 1 to 12
// letters or digits; an AID of 10 to 32 hex digits (5 to 16 bytes)
// starting with its registration category A or D (ISO/IEC 7816-5), which
// chip requires and swipe (no chip, no application) must not carry.
func CheckReceipt(r Receipt) error {
	bad := func(field, want string) error {
		return fmt.Errorf("receipt %s must be %s", field, want)
	}
	if r.CardBrand != "" && !cardBrand.MatchString(r.CardBrand) {
		return bad("card_brand", "1 to 24 letters, digits, spaces or .&-, starting with a letter or digit")
	}
	if r.MaskedPAN != "" && (len(r.MaskedPAN) > 19 || !maskedPAN.MatchString(r.MaskedPAN)) {
		return bad("masked_pan", "at most the first 6 and the last 4 digits with asterisks between (411111******1111 or ******1111), 19 characters at most")
	}
	switch r.EntryMode {
	case "", EntryContactless, EntryChip, EntrySwipe:
	default:
		return bad("entry_mode", "contactless, chip or swipe")
	}
	if r.AuthCode != "" && !authCode.MatchString(r.AuthCode) {
		return bad("auth_code", "1 to 12 letters or digits")
	}
	if r.AID != "" && !aid.MatchString(r.AID) {
		return bad("aid", "10 to 32 hex digits, an even number, starting with A or D")
	}
	if r.EntryMode == EntryChip && r.AID == "" {
		return bad("aid", "set for a chip read")
	}
	if r.EntryMode == EntrySwipe && r.AID != "" {
		return bad("aid", "empty for a swiped card, which has no chip application")
	}
	return nil
}
