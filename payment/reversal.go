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
		if err := checkDuplicate(tx, c.User, requestID, fingerprint); err != nil {
			return err
		}
		var err error
		if o, err = orderVisible(tx, c, tradeID); err != nil {
			return err
		}
		loc, inFlight, err := s.reversalContext(tx, o)
		if err != nil {
			return err
		}
		if err := posgate.CheckReversal(o, c.User, inFlight, loc, now); err != nil {
			return err
		}
		if !s.link.Online(o.TID) {
			return posgate.Refuse(posgate.ErrTerminalOffline, "Terminal offline: the terminal "+o.TID+" is not connected")
		}
		cmd = posgate.Command{ID: newID(), TID: o.TID, Kind: posgate.CommandReversal, TradeID: tradeID, State: posgate.CommandInFlight, CreatedAt: now}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: requestID, Method: "v3.POSReversal", Fingerprint: fingerprint, TradeID: tradeID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertReversal(posgate.Reversal{ID: newID(), TradeID: tradeID, TID: o.TID, RequestID: requestID, CommandID: cmd.ID, State: posgate.ReversalInFlight, CreatedAt: now}); err != nil {
			if errors.Is(err, posgate.ErrReversalInFlight) {
				return posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: another reversal of it is in flight")
			}
			return err
		}
		return tx.InsertCommand(cmd)
	})
	if err != nil {
		return posgate.Order{}, err
	}
	w := s.dispatch(ctx, cmd, o, now)
	defer s.unregister(cmd.ID)
	timedOut, err := await(ctx, w.done, s.cfg.ReversalWait)
	if err != nil {
		return posgate.Order{}, err
	}
	if o, err = s.order(ctx, tradeID); err != nil {
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

// CancelPayment is v3.CancelPayment, the silent cancel: no terminal shows
// anything. An order still waiting for the card has its command abandoned
// and the terminal is told to close the screen, best effort.
func (s *Service) CancelPayment(ctx context.Context, c Caller, tradeID string) (posgate.Order, error) {
	now := s.now()
	var o posgate.Order
	var abort *posgate.Command
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		abort = nil
		var err error
		if o, err = orderVisible(tx, c, tradeID); err != nil {
			return err
		}
		if c.Kind == posgate.KindTerminal && o.TID != c.User {
			return posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: it was made on another terminal")
		}
		loc, inFlight, err := s.reversalContext(tx, o)
		if err != nil {
			return err
		}
		if err := posgate.CheckCancelPayment(o, inFlight, loc, now); err != nil {
			return err
		}
		if o.State == posgate.StateProcessing || o.State == posgate.StatePending {
			cmd, err := tx.CommandForTrade(tradeID, commandKind(o.Operation))
			if err != nil && !errors.Is(err, posgate.ErrNotFound) {
				return err
			}
			if err == nil && cmd.State == posgate.CommandInFlight {
				cmd.State, cmd.Outcome, cmd.Message, cmd.FinishedAt = posgate.CommandAbandoned, posgate.OutcomeCancelled, "cancelled by v3.CancelPayment", &now
				if _, err := tx.FinishCommand(cmd); err != nil {
					return err
				}
				abort = &cmd
			}
		}
		next := o
		next.State, next.UpdatedAt = posgate.StateCancelled, now
		o, err = s.saveOrder(tx, next)
		return err
	})
	if err == nil && abort != nil {
		s.sendAbort(ctx, abort.TID, abort.ID, posgate.AbortCancelled)
	}
	return o, err
}

// CloseBatch clears the terminal's batch now: every paid or authorized
// order of the current business day and before, so they can be refunded
// but no longer reversed.
func (s *Service) CloseBatch(ctx context.Context, tid string) (int, error) {
	now := s.now()
	var n int
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		term, err := tx.Terminal(tid)
		if err != nil {
			return err
		}
		loc, err := s.location(term.Timezone)
		if err != nil {
			return err
		}
		n, err = tx.ClearOrders(tid, posgate.BusinessDate(now, loc), now)
		return err
	})
	return n, err
}

// clearDue clears every terminal's batches whose daily cutoff has passed.
func (s *Service) clearDue(ctx context.Context) error {
	now := s.now()
	return s.store.InTx(ctx, func(tx posgate.Tx) error {
		terms, err := tx.Terminals()
		if err != nil {
			return err
		}
		for _, t := range terms {
			loc, err := s.location(t.Timezone)
			if err != nil {
				return err
			}
			n, err := tx.ClearOrders(t.TID, posgate.ClearThrough(now, loc, t.CutoffMinutes), now)
			if err != nil {
				return err
			}
			if n > 0 {
				s.log.Info("batch cleared", "tid", t.TID, "orders", n)
			}
		}
		return nil
	})
}

// expireDue handles orders whose card-acquisition time is over: the
// terminal is told to close its screen and its answer decides (a card
// tapped at the last moment still pays); when it does not answer within
// AbortWait, or is offline, the order expires here and its command is
// abandoned.
func (s *Service) expireDue(ctx context.Context) error {
	now := s.now()
	var due []posgate.Order
	if err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		due, err = tx.ExpiredOrders(now, 500)
		return err
	}); err != nil {
		return err
	}
	s.forgetAborts(due)
	for _, o := range due {
		s.mu.Lock()
		sent, aborting := s.aborted[o.TradeID]
		s.mu.Unlock()
		online := s.link.Online(o.TID)
		if online && (!aborting || now.Sub(sent) < s.cfg.AbortWait) {
			if !aborting {
				s.mu.Lock()
				s.aborted[o.TradeID] = now
				s.mu.Unlock()
				s.abortSale(ctx, o)
			}
			continue
		}
		if err := s.forceExpire(ctx, o.TradeID); err != nil {
			return err
		}
	}
	return nil
}

// forgetAborts drops the expiry aborts of orders no longer due: their
// result arrived, or a cancel or another node settled them.
func (s *Service) forgetAborts(due []posgate.Order) {
	keep := make(map[string]bool, len(due))
	for _, o := range due {
		keep[o.TradeID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for tradeID := range s.aborted {
		if !keep[tradeID] {
			delete(s.aborted, tradeID)
		}
	}
}

func (s *Service) abortSale(ctx context.Context, o posgate.Order) {
	var cmd posgate.Command
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		cmd, err = tx.CommandForTrade(o.TradeID, commandKind(o.Operation))
		return err
	})
	if err == nil && cmd.State == posgate.CommandInFlight {
		s.sendAbort(ctx, o.TID, cmd.ID, posgate.AbortExpired)
	}
}

func (s *Service) forceExpire(ctx context.Context, tradeID string) error {
	now := s.now()
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(tradeID)
		if err != nil {
			return err
		}
		if o.State != posgate.StateProcessing && o.State != posgate.StatePending {
			return nil
		}
		cmd, err := tx.CommandForTrade(tradeID, commandKind(o.Operation))
		if err == nil && cmd.State == posgate.CommandInFlight {
			cmd.State, cmd.Outcome, cmd.Message, cmd.FinishedAt = posgate.CommandAbandoned, posgate.OutcomeExpired, "expired in the cloud: the terminal did not answer", &now
			if _, err := tx.FinishCommand(cmd); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, posgate.ErrNotFound) {
			return err
		}
		next := o
		next.State, next.UpdatedAt = posgate.StateExpired, now
		_, err = s.saveOrder(tx, next)
		return err
	})
	s.mu.Lock()
	delete(s.aborted, tradeID)
	s.mu.Unlock()
	return err
}

// Run does the service's background work until ctx ends: recording
// progress, expiring orders, clearing batches at their cutoff.
func (s *Service) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.writeProgress(ctx); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastClear := time.Time{}
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-tick.C:
			if err := s.expireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("expire orders", "err", err)
			}
			if now := s.now(); now.Sub(lastClear) >= 30*time.Second {
				lastClear = now
				if err := s.clearDue(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("clear batches", "err", err)
				}
			}
		}
	}
}
