package payment

import (
	"context"
	"errors"
	"time"

	"github.com/posgate/posgate"
)

// ErrReplayUnsupported is returned when the store cannot schedule a
// delivery of a stored notification.
var ErrReplayUnsupported = errors.New("this store cannot replay notifications")

// notificationScheduler is the store transaction's optional method that
// schedules one more delivery of a stored notification, in the same
// transaction (the sqlite store has it once its outbox is attached).
type notificationScheduler interface {
	ScheduleNotification(id string) error
}

// ListNotifications lists the outbox, newest first; with failedOnly only
// the undelivered notifications that failed at least once.
func ListNotifications(ctx context.Context, st posgate.Store, failedOnly bool, limit int) ([]posgate.Notification, error) {
	var ns []posgate.Notification
	err := st.Read(ctx, func(tx posgate.Tx) error {
		var err error
		ns, err = tx.Notifications(failedOnly, limit)
		return err
	})
	return ns, err
}

// ReplayNotification schedules a new delivery of a notification, whether
// it was delivered or not: same id (Webhook-Id), same body, attempts
// counted on from where they were. Unknown ids are posgate.ErrNotFound.
func ReplayNotification(ctx context.Context, st posgate.Store, id string, now time.Time) (posgate.Notification, error) {
	var n posgate.Notification
	err := st.InTx(ctx, func(tx posgate.Tx) error {
		sched, ok := tx.(notificationScheduler)
		if !ok {
			return ErrReplayUnsupported
		}
		var err error
		if n, err = tx.Notification(id); err != nil {
			return err
		}
		// Cleared so the new delivery is not taken for done.
		n.DeliveredAt, n.NextAttempt = nil, now.UTC()
		if err := tx.UpdateNotification(n); err != nil {
			return err
		}
		return sched.ScheduleNotification(id)
	})
	return n, err
}

// Notifications lists the outbox for the operator API.
func (s *Service) Notifications(ctx context.Context, failedOnly bool, limit int) ([]posgate.Notification, error) {
	return ListNotifications(ctx, s.store, failedOnly, limit)
}

// ReplayNotification schedules a new delivery of notification id.
func (s *Service) ReplayNotification(ctx context.Context, id string) (posgate.Notification, error) {
	return ReplayNotification(ctx, s.store, id, s.now())
}
