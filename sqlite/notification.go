package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/posgate/posgate"
)

// NotificationQueue schedules the deliveries of notifications ids inside
// tx, the transaction that stores them or asks for their replay, so the
// delivery jobs commit or roll back with them (a transactional outbox).
// It must use tx only: the store has one connection and tx holds it. The
// store calls it once per group commit with every notification the
// group's committed savepoints scheduled: one queue insert for the group
// instead of one per notification was the largest cost the writer had
// left (docs/benchmarks.md).
type NotificationQueue func(ctx context.Context, tx *sql.Tx, ids []string) error

// Outbox builds the notification queue of a store that has just opened,
// on the store's own database; the queue's workers may use the store.
type Outbox func(ctx context.Context, s *Store) (NotificationQueue, error)

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
	_, err = t.exec(`INSERT INTO notifications (`+notificationCols+`) VALUES (`+placeholders(12)+`)`,
		n.ID, n.MerchantID, n.User, n.TradeID, n.RefundID, n.NotifyURL, string(payload),
		micros(n.CreatedAt), n.Attempts, nullMicros(n.DeliveredAt), n.LastError, micros(n.NextAttempt))
	if err != nil {
		return err
	}
	return t.schedule(n.ID)
}

func (t *tx) ScheduleNotification(id string) error {
	found, err := t.exists("notifications", "id", id)
	switch {
	case err != nil:
		return err
	case !found:
		return posgate.ErrNotFound
	}
	return t.schedule(id)
}

// schedule records id for the queue insert the group makes before it
// commits; a savepoint rolled back drops its ids with its writes.
func (t *tx) schedule(id string) error {
	if t.store.queue == nil {
		return posgate.ErrNoOutbox
	}
	t.wrote = true
	t.scheduled = append(t.scheduled, id)
	return nil
}

// enqueue inserts the delivery jobs of the ids a group scheduled, inside
// the group's transaction.
func (s *Store) enqueue(ctx context.Context, sqlTx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.queue(ctx, sqlTx, ids); err != nil {
		return fmt.Errorf("schedule %d notifications: %w", len(ids), err)
	}
	return nil
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
	changed, err := t.update(`UPDATE notifications SET attempts = ?, delivered_at = ?, last_error = ?, next_attempt = ?
		WHERE id = ?`, n.Attempts, nullMicros(n.DeliveredAt), n.LastError, micros(n.NextAttempt), n.ID)
	if err == nil && !changed {
		return posgate.ErrNotFound
	}
	return err
}
