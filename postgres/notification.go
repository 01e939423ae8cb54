package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	err := t.flush()
	if err == nil {
		err = t.store.queue(t.ctx, riverTx{conn: t.conn}, []string{id})
	}
	if err := t.check(err, "INSERT INTO river_job"); err != nil {
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

// riverTx is the store's transaction as the pgx.Tx River's driver inserts
// its jobs through: its statements go on the transaction's connection.
// The transaction is the store's to end, and River does not nest one
// inside it when inserting, so those methods refuse.
type riverTx struct{ conn *pgx.Conn }

var _ pgx.Tx = riverTx{}

var errNotRiversTx = errors.New("postgres: the notification queue's transaction belongs to the store")

func (riverTx) Begin(context.Context) (pgx.Tx, error) { return nil, errNotRiversTx }
func (riverTx) Commit(context.Context) error          { return errNotRiversTx }
func (riverTx) Rollback(context.Context) error        { return errNotRiversTx }
func (riverTx) LargeObjects() pgx.LargeObjects        { return pgx.LargeObjects{} }
func (t riverTx) Conn() *pgx.Conn                     { return t.conn }

func (t riverTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return t.conn.CopyFrom(ctx, table, cols, src)
}

func (t riverTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(ctx, b)
}

func (t riverTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Prepare(ctx, name, sql)
}

func (t riverTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.conn.Exec(ctx, sql, args...)
}

func (t riverTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.conn.Query(ctx, sql, args...)
}

func (t riverTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.conn.QueryRow(ctx, sql, args...)
}
