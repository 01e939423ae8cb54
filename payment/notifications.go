package payment

import (
	"context"

	"github.com/posgate/posgate"
)

// Notifications lists the outbox, newest first; with failedOnly only the
// undelivered notifications that failed at least once.
func (s *Service) Notifications(ctx context.Context, failedOnly bool, limit int) ([]posgate.Notification, error) {
	var ns []posgate.Notification
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		ns, err = tx.Notifications(failedOnly, limit)
		return err
	})
	return ns, err
}

// ReplayNotification is operator by's new delivery of a notification,
// whether it was delivered or not: same id (Webhook-Id), same body,
// attempts counted on from where they were; the replay is in the order's
// audit. Unknown ids are posgate.ErrNotFound.
func (s *Service) ReplayNotification(ctx context.Context, by, id string) (posgate.Notification, error) {
	var n posgate.Notification
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		var err error
		if n, err = tx.Notification(id); err != nil {
			return err
		}
		// Cleared so the new delivery is not taken for done.
		n.DeliveredAt, n.NextAttempt = nil, s.now()
		if err := tx.UpdateNotification(n); err != nil {
			return err
		}
		if err := s.audit(tx, by, posgate.ActionNotificationReplay, n.TradeID, n.ID, ""); err != nil {
			return err
		}
		return tx.ScheduleNotification(id)
	})
	return n, err
}
