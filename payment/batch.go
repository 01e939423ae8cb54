package payment

import (
	"context"

	"github.com/posgate/posgate"
)

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
