package posgate

import (
	"strings"
	"testing"
	"time"
)

var visaChip = Receipt{CardBrand: "Visa", MaskedPAN: "411111******1111", EntryMode: EntryChip, AuthCode: "A1B2C3", AID: "A0000000031010"}

func TestCheckReceiptAccepts(t *testing.T) {
	for _, r := range []Receipt{
		{},
		visaChip,
		{CardBrand: "Mastercard", MaskedPAN: "******4444", EntryMode: EntryContactless, AuthCode: "123456"},
		{CardBrand: "Diners Club", MaskedPAN: "305693***0004", EntryMode: EntryContactless, AID: "A0000001523010"},
		{CardBrand: "girocard", MaskedPAN: "672599*********0004", EntryMode: EntrySwipe, AuthCode: "7"},
		{AuthCode: "ABCDEFGHIJ12", AID: strings.Repeat("A0", 16)},
		{EntryMode: EntryChip, AID: "D27600002547410100"},
	} {
		if err := CheckReceipt(r); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
}

func TestCheckReceiptRefuses(t *testing.T) {
	for name, r := range map[string]Receipt{
		"full pan in masked_pan":   {MaskedPAN: "4111111111111111"},
		"seven leading digits":     {MaskedPAN: "4111111*****1111"},
		"five trailing digits":     {MaskedPAN: "411111*****11111"},
		"two asterisks":            {MaskedPAN: "411111**1111"},
		"other mask character":     {MaskedPAN: "411111XXXXXX1111"},
		"longer than a pan":        {MaskedPAN: "411111**********1111"},
		"no trailing digits":       {MaskedPAN: "411111**********"},
		"brand too long":           {CardBrand: strings.Repeat("V", 25)},
		"brand with a newline":     {CardBrand: "Visa\n"},
		"brand starting with dash": {CardBrand: "-Visa"},
		"unknown entry mode":       {EntryMode: "manual"},
		"auth code too long":       {AuthCode: "ABCDEFGHIJ123"},
		"auth code punctuation":    {AuthCode: "12-34"},
		"aid too short":            {AID: "A00000000"},
		"aid odd length":           {AID: "A000000003101"},
		"aid too long":             {AID: strings.Repeat("A0", 17)},
		"aid not hex":              {AID: "A00000000G1010"},
		"aid not registered":       {AID: "B0000000031010"},
		"chip without aid":         {EntryMode: EntryChip, MaskedPAN: "******1111"},
		"swipe with aid":           {EntryMode: EntrySwipe, AID: "A0000000031010"},
	} {
		if err := CheckReceipt(r); err == nil {
			t.Errorf("%s: %+v accepted", name, r)
		}
	}
}

// TestLateApprovalKeepsTheReceipt: a late approval records the card it
// charged, which an operator needs should its reversal fail.
func TestLateApprovalKeepsTheReceipt(t *testing.T) {
	o, ok := LateApproval(Order{State: StateExpired}, "ACQ", visaChip, time.Unix(0, 0))
	if !ok || o.Receipt != visaChip || o.TransactionID != "ACQ" {
		t.Fatalf("%+v %v", o, ok)
	}
}
