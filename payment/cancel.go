package payment

import (
	"context"
	"errors"
	"time"

	"github.com/posgate/posgate"
)

// CancelPayment is v3.CancelPayment, the silent cancel: no terminal shows
// anything. An order still waiting for the card has its command abandoned
// and the terminal is told to close the screen, best effort.
func (s *Service) CancelPayment(ctx context.Context, c Caller, tradeID string) (posgate.Order, error) {
	now := s.now()
	var o posgate.Order
	var abort *posgate.Command
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		abort = nil
		var loc *time.Location
		var inFlight bool
		var err error
		if o, loc, inFlight, err = s.orderForReversal(tx, c, tradeID, "", ""); err != nil {
			return err
		}
		if c.Kind == posgate.KindTerminal && o.TID != c.User {
			return posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: it was made on another terminal")
		}
		if err := posgate.CheckCancelPayment(o, inFlight, loc, now); err != nil {
			return err
		}
		if err := notCaptured(tx, o); err != nil {
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
		s.obs.CommandFinished(abort.Kind, OutcomeAbandoned, 0)
		s.sendAbort(ctx, abort.TID, abort.ID, posgate.AbortCancelled)
		s.forward(ctx, abort.TID)
	}
	return o, err
}

// CancelOnTerminal is v3.POSCancel: the terminal closes the payment screen
// of an order still waiting for the card, and the order is cancelled.
func (s *Service) CancelOnTerminal(ctx context.Context, c Caller, tradeID, requestID, fingerprint string) (posgate.Order, error) {
	now := s.now()
	var o posgate.Order
	var cmd posgate.Command
	var needAbort bool
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		needAbort = false
		if err := checkDuplicate(tx, c.User, requestID, fingerprint); err != nil {
			return err
		}
		var err error
		if o, err = orderVisible(tx, c, tradeID); err != nil {
			return err
		}
		if err := posgate.CheckPOSCancel(o, c.User); err != nil {
			return err
		}
		cmd, err = tx.CommandForTrade(tradeID, commandKind(o.Operation))
		if err != nil {
			return err
		}
		if cmd.State == posgate.CommandInFlight {
			if !s.link.Online(o.TID) {
				return posgate.Refuse(posgate.ErrTerminalOffline, "Terminal offline: the payment screen cannot be closed; use v3.CancelPayment to cancel silently")
			}
			needAbort = true
		} else {
			// Nothing is waiting on the terminal any more: cancel here.
			next := o
			next.State, next.UpdatedAt = posgate.StateCancelled, now
			if o, err = s.saveOrder(tx, next); err != nil {
				return err
			}
		}
		return tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: requestID, Method: "v3.POSCancel", Fingerprint: fingerprint, TradeID: tradeID, CreatedAt: now})
	})
	if err != nil || !needAbort {
		return o, err
	}
	w := s.register(cmd)
	defer s.unregister(cmd.ID)
	s.sendAbort(ctx, o.TID, cmd.ID, posgate.AbortCancelled)
	if _, err := s.awaitCommand(ctx, w, cmd.ID, w.done, false, s.cfg.AbortWait); err != nil {
		return posgate.Order{}, err
	}
	if o, err = s.order(ctx, tradeID); err != nil {
		return o, err
	}
	switch o.State {
	case posgate.StateCancelled:
		return o, nil
	case posgate.StatePaid, posgate.StateAuthorized:
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: the customer paid before the cancel arrived; use v3.POSReversal (same day) or v3.CreateRefund"), Order: o}
	case posgate.StateProcessing:
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrTerminalTimeout, "The terminal has not confirmed the cancel in time; the outcome will follow by notification and v3.QueryOrder"), Order: o}
	default:
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: it is "+string(o.State)), Order: o}
	}
}

func commandKind(op posgate.Operation) posgate.CommandKind {
	if op == posgate.OpAuthorisation {
		return posgate.CommandAuthorisation
	}
	return posgate.CommandSale
}
