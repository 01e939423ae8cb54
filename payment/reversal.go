package payment

import (
	"context"
	"errors"
	"time"

	"github.com/posgate/posgate"
)

// Reverse is v3.POSReversal: the rules are checked in the contract's order
// inside one transaction that also records the request_id, the reversal
// and the command (the store refuses a second reversal in flight and a
// second command on the terminal). The terminal then shows the reversal
// and reports; Reverse waits for that result at most ReversalWait. The
// result is applied whenever it arrives, exactly once.
func (s *Service) Reverse(ctx context.Context, c Caller, tradeID, requestID, fingerprint string) (posgate.Order, error) {
	now := s.now()
	var o posgate.Order
	var cmd posgate.Command
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		// The writes below go in one round trip with the commit; their
		// errors come back from InTx.
		tx.DeferWrites()
		var loc *time.Location
		var inFlight bool
		var err error
		if o, loc, inFlight, err = s.orderForReversal(tx, c, tradeID, requestID, fingerprint); err != nil {
			return err
		}
		if err := posgate.CheckReversal(o, c.User, inFlight, loc, now); err != nil {
			return err
		}
		if err := notCaptured(tx, o); err != nil {
			return err
		}
		if o.Operation == posgate.OpAuthorisation {
			// Writing the order makes a concurrent capture or decrement,
			// which also writes it, conflict with this reversal instead of
			// committing beside it on a stale read.
			o.UpdatedAt = now
			if err := tx.UpdateOrder(o); err != nil {
				return err
			}
			o.Version++
		}
		if !s.link.Online(o.TID) {
			return posgate.Refuse(posgate.ErrTerminalOffline, "Terminal offline: the terminal "+o.TID+" is not connected")
		}
		cmd = posgate.Command{ID: newID(), TID: o.TID, Kind: posgate.CommandReversal, TradeID: tradeID, State: posgate.CommandInFlight, CreatedAt: now}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: requestID, Method: "v3.POSReversal", Fingerprint: fingerprint, TradeID: tradeID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertReversal(posgate.Reversal{ID: newID(), TradeID: tradeID, TID: o.TID, RequestID: requestID, CommandID: cmd.ID, State: posgate.ReversalInFlight, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertCommand(cmd); err != nil {
			return err
		}
		// Writing the order serialises the reversal with a refund of it:
		// each checks the other (CheckReversal, CheckRefund), and without a
		// common row PostgreSQL would let both commit.
		return tx.UpdateOrder(o)
	})
	if errors.Is(err, posgate.ErrReversalInFlight) {
		return posgate.Order{}, posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: another reversal of it is in flight")
	}
	if err != nil {
		return posgate.Order{}, err
	}
	w := s.dispatch(ctx, cmd, o, now)
	defer s.unregister(cmd.ID)
	timedOut, err := s.awaitCommand(ctx, w, cmd.ID, w.done, false, s.cfg.ReversalWait)
	if err != nil {
		return posgate.Order{}, err
	}
	// The result's own transaction left the order as w.order says; one
	// applied elsewhere (another gateway) or not yet is read.
	if !timedOut && w.order != nil {
		o = *w.order
	} else if o, err = s.order(ctx, tradeID); err != nil {
		return o, err
	}
	switch {
	case timedOut:
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrTerminalTimeout, "The terminal has not answered within the wait time; the outcome will follow by notification and v3.QueryOrder"), Order: o}
	case w.result.Outcome != posgate.OutcomeApproved:
		msg := "Declined or aborted on the terminal: " + string(w.result.Outcome)
		if w.result.Message != "" {
			msg += ": " + w.result.Message
		}
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrTerminalDeclined, msg), Order: o}
	}
	return o, nil
}
