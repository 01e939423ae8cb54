package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/posgate/posgate"
)

// NotificationQueue schedules the delivery of notification id inside tx,
// the transaction that stores it or asks for its replay, so the delivery
// job commits or rolls back with it (a transactional outbox). It must use
// tx only: the store has one connection and tx holds it.
type NotificationQueue func(ctx context.Context, tx *sql.Tx, id string) error

// ErrNoQueue is returned by ScheduleNotification when no queue is set.
var ErrNoQueue = errors.New("sqlite: no notification queue is set")

// SetNotificationQueue makes InsertNotification and ScheduleNotification
// schedule deliveries through q. Without a queue, notifications are only
// stored.
func (s *Store) SetNotificationQueue(q NotificationQueue) { s.queue.Store(&q) }

func (s *Store) notificationQueue() NotificationQueue {
	if q := s.queue.Load(); q != nil {
		return *q
	}
	return nil
}

const notificationCols = `id, merchant_id, user, trade_id, refund_id, notify_url, payload,
	created_at, attempts, delivered_at, last_error, next_attempt`

func scanNotification(r row) (n posgate.Notification, err error) {
	var payload string
	err = r.Scan(&n.ID, &n.MerchantID, &n.User, &n.TradeID, &n.RefundID, &n.NotifyURL, &payload,
		timeDest{&n.CreatedAt}, &n.Attempts, nullTimeDest{&n.DeliveredAt}, &n.LastError, timeDest{&n.NextAttempt})
	if err != nil {
		return n, err
	}
	return n, json.Unmarshal([]byte(payload), &n.Payload)
}

func (t *tx) InsertNotification(n posgate.Notification) error {
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return err
	}
	_, err = t.exec(posgate.ErrDuplicate, `INSERT INTO notifications (`+notificationCols+`) VALUES (`+placeholders(12)+`)`,
		n.ID, n.MerchantID, n.User, n.TradeID, n.RefundID, n.NotifyURL, string(payload),
		micros(n.CreatedAt), n.Attempts, nullMicros(n.DeliveredAt), n.LastError, micros(n.NextAttempt))
	if err != nil {
		return err
	}
	if q := t.store.notificationQueue(); q != nil {
		return q(t.ctx, t.tx, n.ID)
	}
	return nil
}

// ScheduleNotification schedules one more delivery of a stored
// notification, for an operator's replay. It is not part of posgate.Tx
// (yet); callers find it by type assertion.
func (t *tx) ScheduleNotification(id string) error {
	q := t.store.notificationQueue()
	if q == nil {
		return ErrNoQueue
	}
	found, err := t.exists("notifications", "id", id)
	switch {
	case err != nil:
		return err
	case !found:
		return posgate.ErrNotFound
	}
	t.wrote = true
	return q(t.ctx, t.tx, id)
}

func (t *tx) Notification(id string) (posgate.Notification, error) {
	return one(t, scanNotification, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id)
}

func (t *tx) Notifications(failedOnly bool, limit int) ([]posgate.Notification, error) {
	where := ``
	if failedOnly {
		where = `WHERE delivered_at IS NULL AND attempts > 0`
	}
	return list(t, scanNotification, `SELECT `+notificationCols+` FROM notifications `+where+`
		ORDER BY created_at DESC, rowid DESC LIMIT ?`, limit)
}

func (t *tx) UpdateNotification(n posgate.Notification) error {
	changed, err := t.update(nil, `UPDATE notifications SET attempts = ?, delivered_at = ?, last_error = ?, next_attempt = ?
		WHERE id = ?`, n.Attempts, nullMicros(n.DeliveredAt), n.LastError, micros(n.NextAttempt), n.ID)
	if err == nil && !changed {
		return posgate.ErrNotFound
	}
	return err
}
