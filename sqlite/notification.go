package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/posgate/posgate"
)

// The notifications table is the outbox (a transactional outbox without a
// queue beside it): a notification is due while delivered_at is NULL and
// next_attempt is set, so its delivery is due if and only if the
// transaction that stored it committed. The store hands every notification
// a commit made due (inserted, or replayed) to the gateway's dispatcher
// once it is durable, which delivers it without reading it again; the
// dispatcher finds the rest (after a restart, at a retry's time, a replay
// made by another process) with Due. Its claims and its records are
// ordinary work of the group commit: the queue's own fetch, completion and
// insert transactions (River's, before) were a third of the gateway's CPU
// under load (docs/benchmarks.md).

// Scheduled is a notification whose delivery a commit made due, and the
// attempts made before its current schedule began (an operator's replay
// starts the retry schedule again; Attempts counts on).
type Scheduled = posgate.DueNotification

// Dispatch takes the notifications each commit made due, once the commit
// is durable. It runs on the store's writer goroutine: it must not block,
// nor call the store.
type Dispatch func(ns []Scheduled)

// Outbox builds the dispatch of a store that has just opened; the
// dispatcher it feeds may use the store.
type Outbox func(ctx context.Context, s *Store) (Dispatch, error)

const notificationCols = `id, merchant_id, user, trade_id, refund_id, notify_url, payload,
	created_at, attempts, delivered_at, last_error, next_attempt`

// noAttempt is next_attempt when none is due: the zero time as stored.
var noAttempt = micros(time.Time{})

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
	return t.schedule(n, n.Attempts)
}

func (t *tx) ScheduleNotification(id string) error {
	if t.store.dispatch == nil {
		return posgate.ErrNoOutbox
	}
	// The schedule starts again from the attempts made so far.
	changed, err := t.update(`UPDATE notifications SET attempts_before = attempts WHERE id = ?`, id)
	switch {
	case err != nil:
		return err
	case !changed:
		return posgate.ErrNotFound
	}
	n, err := t.Notification(id)
	if err != nil {
		return err
	}
	return t.schedule(n, n.Attempts)
}

// schedule records n for the dispatcher, which gets it when the group
// commits; a savepoint rolled back drops it with its writes.
func (t *tx) schedule(n posgate.Notification, before int) error {
	if t.store.dispatch == nil {
		return posgate.ErrNoOutbox
	}
	t.wrote = true
	t.scheduled = append(t.scheduled, Scheduled{Notification: n, Before: before})
	return nil
}

// Due calls claim, in the writer's turn, with each notification whose
// delivery is due at now (oldest first, at most limit), and returns how
// many it found. Claiming inside the writer orders the scan with the
// dispatcher's records: a delivery recorded before the scan is not due
// any more, and one recorded after was still claimed when the scan ran.
// The claims are only good if Due returns no error: the transaction the
// scan ran in may have failed.
func (s *Store) Due(ctx context.Context, now time.Time, limit int, claim func(Scheduled)) (int, error) {
	found := 0
	err := s.InTx(ctx, func(ptx posgate.Tx) error {
		t := ptx.(*tx)
		rows, err := t.tx.QueryContext(t.ctx, `SELECT `+notificationCols+`, attempts_before FROM notifications
			WHERE delivered_at IS NULL AND next_attempt > ? AND next_attempt <= ?
			ORDER BY next_attempt LIMIT ?`, noAttempt, micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		var due []Scheduled
		for rows.Next() {
			var sc Scheduled
			if sc.Notification, err = scanNotification(rowWith{rows, &sc.Before}); err != nil {
				return err
			}
			due = append(due, sc)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		found = len(due)
		for _, sc := range due {
			claim(sc)
		}
		return nil
	})
	return found, err
}

// rowWith scans a row's columns and one more at the end into extra.
type rowWith struct {
	r     row
	extra any
}

func (r rowWith) Scan(dest ...any) error { return r.r.Scan(append(dest, r.extra)...) }

// dispatchCommitted hands a committed group's notifications to the
// dispatcher.
func (s *Store) dispatchCommitted(ns []Scheduled) {
	if len(ns) > 0 && s.dispatch != nil {
		s.dispatch(ns)
	}
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
