package termlink

import (
	"context"
	"fmt"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termproto"
)

// The wire's names for the domain's values, in one place: the domain and
// the terminal protocol evolve separately, and a value missing here fails
// TestTranslationRoundTrips rather than reaching a terminal as a guess.
var (
	stageWire = map[posgate.Stage]string{
		posgate.StageReceived:          termproto.StageReceived,
		posgate.StageOnScreen:          termproto.StageOnScreen,
		posgate.StageWaitingForCard:    termproto.StageWaitingForCard,
		posgate.StageCardRead:          termproto.StageCardRead,
		posgate.StageAuthorising:       termproto.StageAuthorising,
		posgate.StageReversalRequested: termproto.StageReversalRequested,
		posgate.StageProcessing:        termproto.StageProcessing,
		posgate.StageApproved:          termproto.StageApproved,
		posgate.StageDeclined:          termproto.StageDeclined,
		posgate.StageCancelled:         termproto.StageCancelled,
	}
	outcomeWire = map[posgate.Outcome]string{
		posgate.OutcomeApproved:    termproto.OutcomeApproved,
		posgate.OutcomeDeclined:    termproto.OutcomeDeclined,
		posgate.OutcomeFailed:      termproto.OutcomeFailed,
		posgate.OutcomeCancelled:   termproto.OutcomeCancelled,
		posgate.OutcomeExpired:     termproto.OutcomeExpired,
		posgate.OutcomeInterrupted: termproto.OutcomeInterrupted,
	}
	kindWire = map[posgate.CommandKind]string{
		posgate.CommandSale:          termproto.KindSale,
		posgate.CommandAuthorisation: termproto.KindAuthorisation,
		posgate.CommandReversal:      termproto.KindReversal,
	}
	entryWire = map[posgate.EntryMode]string{
		posgate.EntryContactless: termproto.EntryContactless,
		posgate.EntryChip:        termproto.EntryChip,
		posgate.EntrySwipe:       termproto.EntrySwipe,
	}
	abortWire = map[posgate.AbortReason]string{
		posgate.AbortCancelled: termproto.AbortCancelled,
		posgate.AbortExpired:   termproto.AbortExpired,
	}

	stageDomain   = invert(stageWire)
	outcomeDomain = invert(outcomeWire)
	entryDomain   = invert(entryWire)
)

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// progressOf reads a progress frame; false for a stage the protocol does
// not define.
func progressOf(f termproto.Frame) (posgate.Progress, bool) {
	st, ok := stageDomain[f.Stage]
	return posgate.Progress{CommandID: f.ID, Stage: st, Message: f.Message}, ok
}

// resultOf reads a result frame; Decode has checked its outcome and entry
// mode already (and refused a frame that could hold a card number), and a
// value missing from the tables fails TestTranslationRoundTrips. Receipt
// data the domain refuses is an error: the result is not recorded.
func resultOf(f termproto.Frame) (posgate.Result, error) {
	r := posgate.Result{CommandID: f.ID, Outcome: outcomeDomain[f.Outcome], TransactionID: f.TransactionID, Message: f.Message,
		Receipt: posgate.Receipt{CardBrand: f.CardBrand, MaskedPAN: f.CardMaskedPAN, AuthCode: f.CardAuthCode, AID: f.CardAID}}
	if f.CardEntryMode != "" {
		r.Receipt.EntryMode = entryDomain[f.CardEntryMode]
	}
	return r, posgate.CheckReceipt(r.Receipt)
}

// commandFrame renders a command for its terminal.
func commandFrame(d posgate.Dispatch) (termproto.Frame, error) {
	kind, ok := kindWire[d.Command.Kind]
	if !ok {
		return termproto.Frame{}, fmt.Errorf("termlink: command kind %q has no wire name", d.Command.Kind)
	}
	o := d.Order
	cur, _ := posgate.LookupCurrency(o.Currency)
	f := termproto.Frame{
		Type:        termproto.TypeCommand,
		ID:          d.Command.ID,
		Kind:        kind,
		TradeID:     o.TradeID,
		OrderID:     o.OrderID,
		Amount:      posgate.FormatAmount(o.Amount, cur),
		Currency:    o.Currency,
		Description: o.Description,
		TimeoutMS:   d.CardTimeout.Milliseconds(),
	}
	if o.TipAmount > 0 {
		f.TipAmount = posgate.FormatAmount(o.TipAmount, cur)
	}
	return f, nil
}

// SendCommand sends a command to its terminal's live connection; like
// Send, it fails with posgate.ErrTerminalOffline when there is none.
func (h *Hub) SendCommand(ctx context.Context, d posgate.Dispatch) error {
	f, err := commandFrame(d)
	if err != nil {
		return err
	}
	return h.Send(ctx, d.Command.TID, f)
}

// SendAbort asks the terminal to stop a command.
func (h *Hub) SendAbort(ctx context.Context, tid, commandID string, reason posgate.AbortReason) error {
	r, ok := abortWire[reason]
	if !ok {
		return fmt.Errorf("termlink: abort reason %q has no wire name", reason)
	}
	return h.Send(ctx, tid, termproto.Frame{Type: termproto.TypeAbort, ID: commandID, Reason: r})
}
