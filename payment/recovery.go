package payment

import (
	"context"
	"errors"
	"time"

	"github.com/posgate/posgate"
)

// staleAfter is how long a refund or capture may stay processing before
// it counts as stuck: longer than any acquirer call (AcquirerTimeout), so
// one still being made is never taken.
func (s *Service) staleAfter() time.Duration { return 2 * s.cfg.AcquirerTimeout }

// recoverRefunds finishes refunds left in refund processing by a crash
// between the acquirer call and the transaction that records its answer.
// The acquirer is asked again with the same refund id, its idempotency key
// (acquirer.Request), so a refund made before the crash is not made twice;
// the answer is recorded with compare-and-set, once. Each refund is
// claimed first (its UpdatedAt moved to now, compare-and-set on its
// version), so of several gateways sharing the database one retries it.
func (s *Service) recoverRefunds(ctx context.Context) error {
	now := s.now()
	var stuck []posgate.Refund
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		stuck, err = tx.StaleRefunds(posgate.RefundProcessing, now.Add(-s.staleAfter()), 100)
		return err
	})
	if err != nil {
		return err
	}
	for _, r := range stuck {
		var o posgate.Order
		err := s.store.InTx(ctx, func(tx posgate.Tx) error {
			claimed := r
			claimed.UpdatedAt = now
			if err := tx.UpdateRefund(claimed); err != nil {
				return err
			}
			var err error
			o, err = tx.Order(r.TradeID)
			return err
		})
		if errors.Is(err, posgate.ErrConflict) {
			continue // another gateway claimed it, or it moved on
		}
		if err != nil {
			return err
		}
		s.log.Warn("refund stuck in processing: asking the acquirer again with its idempotency key", "refund_id", r.RefundID, "trade_id", r.TradeID, "since", r.UpdatedAt)
		if _, _, err := s.processRefund(ctx, r, o); err != nil {
			return err
		}
	}
	return nil
}

// recoverCaptures finishes captures left in processing by a crash between
// the transaction that made them and the one that records the acquirer's
// answer, as recoverRefunds does for refunds: the acquirer is asked again
// under the capture id, its idempotency key, and FinishCapture records the
// answer with compare-and-set, once.
func (s *Service) recoverCaptures(ctx context.Context) error {
	var stuck []posgate.Capture
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		stuck, err = tx.StaleCaptures(s.now().Add(-s.staleAfter()), 100)
		return err
	})
	if err != nil {
		return err
	}
	for _, cp := range stuck {
		o, err := s.order(ctx, cp.TradeID)
		if err != nil {
			return err
		}
		s.log.Warn("capture stuck in processing: asking the acquirer again with its idempotency key", "capture_id", cp.CaptureID, "trade_id", cp.TradeID, "since", cp.CreatedAt)
		// A decline or an unknown answer is recorded like any answer; only
		// a failure to record it is the job's.
		var refusal *WaitError
		if _, err := s.completeCapture(ctx, cp, o); err != nil && !errors.As(err, &refusal) {
			return err
		}
	}
	return nil
}

// recoverDecrements finishes decrements left in processing by a crash, as
// recoverCaptures does for captures. Until then the reduction is off the
// order, the safe side: a capture can take no more than the acquirer
// still holds.
func (s *Service) recoverDecrements(ctx context.Context) error {
	var stuck []posgate.Decrement
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		stuck, err = tx.StaleDecrements(s.now().Add(-s.staleAfter()), 100)
		return err
	})
	if err != nil {
		return err
	}
	for _, d := range stuck {
		o, err := s.order(ctx, d.TradeID)
		if err != nil {
			return err
		}
		s.log.Warn("decrement stuck in processing: asking the acquirer again with its idempotency key", "decrement_id", d.DecrementID, "trade_id", d.TradeID, "since", d.CreatedAt)
		var refusal *WaitError
		if _, err := s.completeDecrement(ctx, d, o); err != nil && !errors.As(err, &refusal) {
			return err
		}
	}
	return nil
}

// runEvery runs fn when every has passed since its last run.
type runEvery struct {
	every time.Duration
	last  time.Time
}

func (r *runEvery) due(now time.Time) bool {
	if now.Sub(r.last) < r.every {
		return false
	}
	r.last = now
	return true
}
