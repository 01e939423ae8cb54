package termlink

import (
	"testing"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termproto"
)

// TestTranslationRoundTrips checks that every domain value has a wire name
// that the protocol accepts and that reads back as the same value.
func TestTranslationRoundTrips(t *testing.T) {
	for _, st := range posgate.Stages {
		w, ok := stageWire[st]
		if !ok {
			t.Errorf("stage %q has no wire name", st)
			continue
		}
		f := termproto.Frame{Type: termproto.TypeProgress, ID: "c", Stage: w}
		if err := f.Validate(); err != nil {
			t.Errorf("stage %q: %v", st, err)
		}
		if p, ok := progressOf(f); !ok || p.Stage != st {
			t.Errorf("stage %q reads back as %q", st, p.Stage)
		}
	}
	for _, o := range posgate.Outcomes {
		w, ok := outcomeWire[o]
		if !ok {
			t.Errorf("outcome %q has no wire name", o)
			continue
		}
		f := termproto.Frame{Type: termproto.TypeResult, ID: "c", Outcome: w}
		if err := f.Validate(); err != nil {
			t.Errorf("outcome %q: %v", o, err)
		}
		if r, err := resultOf(f); err != nil || r.Outcome != o {
			t.Errorf("outcome %q reads back as %q", o, r.Outcome)
		}
	}
	for _, k := range posgate.CommandKinds {
		f, err := commandFrame(posgate.Dispatch{Command: posgate.Command{ID: "c", Kind: k}, Order: posgate.Order{Currency: "EUR"}})
		if err != nil {
			t.Errorf("kind %q: %v", k, err)
			continue
		}
		if err := f.Validate(); err != nil {
			t.Errorf("kind %q: %v", k, err)
		}
	}
	for _, m := range posgate.EntryModes {
		w, ok := entryWire[m]
		if !ok {
			t.Errorf("entry mode %q has no wire name", m)
			continue
		}
		f := termproto.Frame{Type: termproto.TypeResult, ID: "c", Outcome: termproto.OutcomeApproved, CardEntryMode: w, CardAID: "A0000000031010"}
		if m == posgate.EntrySwipe {
			f.CardAID = ""
		}
		if err := f.Validate(); err != nil {
			t.Errorf("entry mode %q: %v", m, err)
		}
		if r, err := resultOf(f); err != nil || r.Receipt.EntryMode != m {
			t.Errorf("entry mode %q reads back as %q (%v)", m, r.Receipt.EntryMode, err)
		}
	}
	for _, r := range posgate.AbortReasons {
		if _, ok := abortWire[r]; !ok {
			t.Errorf("abort reason %q has no wire name", r)
		}
	}
	if len(stageWire) != len(posgate.Stages) || len(outcomeWire) != len(posgate.Outcomes) ||
		len(kindWire) != len(posgate.CommandKinds) || len(abortWire) != len(posgate.AbortReasons) || len(entryWire) != len(posgate.EntryModes) {
		t.Error("a table maps a value the domain does not list")
	}
	if _, ok := progressOf(termproto.Frame{Type: termproto.TypeProgress, ID: "c", Stage: "dancing"}); ok {
		t.Error("an undefined stage was accepted")
	}
}

// TestResultReceipt: a result's receipt fields reach the domain as sent,
// and receipt data the domain refuses makes the result an error.
func TestResultReceipt(t *testing.T) {
	f := termproto.Frame{Type: termproto.TypeResult, ID: "c", Outcome: termproto.OutcomeApproved, TransactionID: "SIM1",
		CardBrand: "Visa", CardMaskedPAN: "411111******1111", CardEntryMode: termproto.EntryChip, CardAuthCode: "A1B2C3", CardAID: "A0000000031010"}
	r, err := resultOf(f)
	if err != nil {
		t.Fatal(err)
	}
	want := posgate.Receipt{CardBrand: "Visa", MaskedPAN: "411111******1111", EntryMode: posgate.EntryChip, AuthCode: "A1B2C3", AID: "A0000000031010"}
	if r.Receipt != want {
		t.Fatalf("receipt %+v, want %+v", r.Receipt, want)
	}
	if r, err := resultOf(termproto.Frame{Type: termproto.TypeResult, ID: "c", Outcome: termproto.OutcomeApproved}); err != nil || !r.Receipt.IsZero() {
		t.Fatalf("a result without receipt data: %+v, %v", r.Receipt, err)
	}
	f.CardAID = ""
	if _, err := resultOf(f); err == nil {
		t.Fatal("a chip read without an AID was accepted")
	}
}
