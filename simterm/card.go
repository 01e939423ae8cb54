package simterm

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/posgate/posgate/termproto"
)

// Receipt is the card data an approved sale or authorisation reports, as
// the result frame's card_* fields carry it: never the full card number.
type Receipt struct {
	Brand     string `json:"card_brand,omitempty"`
	MaskedPAN string `json:"card_masked_pan,omitempty"`
	EntryMode string `json:"card_entry_mode,omitempty"`
	AuthCode  string `json:"card_auth_code,omitempty"`
	AID       string `json:"card_aid,omitempty"`
}

// testCard is one of the simulated customer's cards, the schemes' public
// test numbers (only their first 6 and last 4 digits are kept).
type testCard struct {
	key                  string // its name in the control API's brand
	brand, first6, last4 string
	digits               int
	entry, aid           string // aid: the chip application, reported unless swiped
}

// testCards: the amount's minor units modulo 3 pick the card, so that a
// test knows the receipt of any amount (docs/simulator.md copies this).
var testCards = []testCard{
	{"visa", "Visa", "411111", "1111", 16, termproto.EntryContactless, "A0000000031010"},
	{"mastercard", "Mastercard", "555555", "4444", 16, termproto.EntryChip, "A0000000041010"},
	{"amex", "American Express", "378282", "0005", 15, termproto.EntrySwipe, "A000000025010801"},
}

// cardFor is the card the customer presents for amount ("12.50").
func cardFor(amount string) testCard {
	minor := 0
	for _, c := range amount {
		if c >= '0' && c <= '9' {
			minor = (minor*10 + int(c-'0')) % len(testCards)
		}
	}
	return testCards[minor]
}

// receiptFor is the approval's receipt: the card of the amount, or the
// brand and entry mode the control API chose (a), and an authorisation
// code the issuer derives from the card and the amount.
func receiptFor(amount string, a *Action) Receipt {
	c := cardFor(amount)
	if a != nil {
		for _, k := range testCards {
			if k.key == a.Brand {
				c = k
			}
		}
		if a.Brand != "" && c.key != a.Brand {
			// A scheme without a test card of its own: its name on the
			// amount's card numbers.
			c.brand = strings.ToUpper(a.Brand[:1]) + a.Brand[1:]
		}
		if a.EntryMode != "" {
			c.entry = a.EntryMode
		}
	}
	if c.entry == termproto.EntrySwipe {
		c.aid = ""
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s", c.first6+c.last4, amount)
	return Receipt{
		Brand:     c.brand,
		MaskedPAN: c.first6 + strings.Repeat("*", c.digits-10) + c.last4,
		EntryMode: c.entry,
		AuthCode:  fmt.Sprintf("%06d", h.Sum32()%1_000_000),
		AID:       c.aid,
	}
}
