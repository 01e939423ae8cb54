package payment

import (
	"context"
	"errors"

	"github.com/posgate/posgate"
)

// expireDue handles orders whose card-acquisition time is over. Their
// command may have reached the terminal, which journals what it did and
// reports it whenever it can, so the terminal's answer decides: an online
// terminal is told to close its screen (a card tapped at the last moment
// still pays), an offline one is waited for. Only when ReconcileAfter has
// passed since the card time ended without any answer does the order
// expire here, its command abandoned; an approval that still comes after
// that is reversed (lateResult).
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
		if now.Before(o.ExpiresAt.Add(s.cfg.ReconcileAfter)) {
			s.mu.Lock()
			_, aborting := s.aborted[o.TradeID]
			s.mu.Unlock()
			// Once per order and node; Connected sends it again after a
			// reconnect.
			if !aborting && s.link.Online(o.TID) {
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
	var tid string // the terminal whose command was abandoned
	var kind posgate.CommandKind
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		tid = ""
		o, err := tx.Order(tradeID)
		if err != nil {
			return err
		}
		if o.State != posgate.StateProcessing && o.State != posgate.StatePending {
			return nil
		}
		cmd, err := tx.CommandForTrade(tradeID, commandKind(o.Operation))
		if err == nil && cmd.State == posgate.CommandInFlight {
			cmd.State, cmd.Outcome, cmd.Message, cmd.FinishedAt = posgate.CommandAbandoned, posgate.OutcomeExpired, "expired in the cloud: the terminal did not answer before the reconciliation deadline", &now
			if _, err := tx.FinishCommand(cmd); err != nil {
				return err
			}
			tid, kind = cmd.TID, cmd.Kind
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
	if err != nil {
		return err
	}
	s.log.Info("order expired: no answer from its terminal before the reconciliation deadline", "trade_id", tradeID)
	if tid != "" {
		s.obs.CommandFinished(kind, OutcomeAbandoned, 0)
		s.forward(ctx, tid)
	}
	return nil
}
