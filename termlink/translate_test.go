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
		if r := resultOf(f); r.Outcome != o {
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
	for _, r := range posgate.AbortReasons {
		if _, ok := abortWire[r]; !ok {
			t.Errorf("abort reason %q has no wire name", r)
		}
	}
	if len(stageWire) != len(posgate.Stages) || len(outcomeWire) != len(posgate.Outcomes) ||
		len(kindWire) != len(posgate.CommandKinds) || len(abortWire) != len(posgate.AbortReasons) {
		t.Error("a table maps a value the domain does not list")
	}
	if _, ok := progressOf(termproto.Frame{Type: termproto.TypeProgress, ID: "c", Stage: "dancing"}); ok {
		t.Error("an undefined stage was accepted")
	}
}
