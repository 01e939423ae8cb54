package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/posgate/posgate"
)

// NotificationQueue schedules the deliveries of notifications ids inside
// tx, the transaction that stores them or asks for their replay, so the
// delivery jobs commit or roll back with them (a transactional outbox):
// River's pgx driver inserts its jobs through tx.
type NotificationQueue func(ctx context.Context, tx pgx.Tx, ids []string) error

// Outbox builds the notification queue of a store that has just opened,
// on the store's own database; the queue's workers may use the store.
type Outbox func(ctx context.Context, s *Store) (NotificationQueue, error)

const notificationCols = `id, merchant_id, "user", trade_id, refund_id, notify_url, payload, created_at, attempts,
	delivered_at, last_error, next_attempt`

func scanNotification(r row) (n posgate.Notification, err error) {
	var payload []byte
	err = r.Scan(&n.ID, &n.MerchantID, &n.User, &n.TradeID, &n.RefundID, &n.NotifyURL, &payload, &n.CreatedAt, &n.Attempts,
		&n.DeliveredAt, &n.LastError, &n.NextAttempt)
	if err != nil {
		return n, err
	}
	return n, json.Unmarshal(payload, &n.Payload)
}

func (t *tx) InsertNotification(n posgate.Notification) error {
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO notifications (`+notificationCols+`) VALUES (`+placeholders(12)+`)`,
		n.ID, n.MerchantID, n.User, n.TradeID, n.RefundID, n.NotifyURL, string(payload), n.CreatedAt, n.Attempts,
		n.DeliveredAt, n.LastError, n.NextAttempt)
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

// schedule enqueues the delivery through the queue. A failure voids the
// transaction like any statement's.
func (t *tx) schedule(id string) error {
	if t.store.queue == nil {
		return posgate.ErrNoOutbox
	}
	if err := t.check(t.store.queue(t.ctx, t.tx, []string{id}), "INSERT INTO river_job"); err != nil {
		return fmt.Errorf("schedule notification %s: %w", id, err)
	}
	return nil
}

func (t *tx) Notification(id string) (posgate.Notification, error) {
	return one(t, scanNotification, `SELECT `+notificationCols+` FROM notifications WHERE id = $1`, id)
}

func (t *tx) Notifications(failedOnly bool, limit int) ([]posgate.Notification, error) {
	where := ``
	if failedOnly {
		where = `WHERE delivered_at IS NULL AND attempts > 0`
	}
	return list(t, scanNotification, `SELECT `+notificationCols+` FROM notifications `+where+`
		ORDER BY created_at DESC, seq DESC LIMIT $1`, limit)
}

func (t *tx) UpdateNotification(n posgate.Notification) error {
	c, err := t.exec(`UPDATE notifications SET attempts = $1, delivered_at = $2, last_error = $3, next_attempt = $4 WHERE id = $5`,
		n.Attempts, n.DeliveredAt, n.LastError, n.NextAttempt, n.ID)
	if err == nil && c == 0 {
		return posgate.ErrNotFound
	}
	return err
}
