package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/sqlite"
)

// receiver counts the deliveries of each Webhook-Id and answers status.
type receiver struct {
	URL string

	mu     sync.Mutex
	status int
	hits   map[string]int
}

func newReceiver(t *testing.T, status int, delay time.Duration) *receiver {
	rc := &receiver{status: status, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		rc.mu.Lock()
		rc.hits[r.Header.Get("Webhook-Id")]++
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/notify"
	return rc
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits[id]
}

func (rc *receiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.hits)
}

func secret(context.Context, string) (string, error) { return "secret", nil }

// insertNotifications stores one notification of a new merchant per id.
func insertNotifications(t *testing.T, st posgate.Store, url string, ids ...string) {
	t.Helper()
	now := time.Now().UTC()
	require.NoError(t, st.InTx(t.Context(), func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant("Shop", now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := tx.InsertNotification(posgate.Notification{ID: id, MerchantID: m.ID, User: "U", TradeID: id,
				NotifyURL: url, Payload: map[string]string{"state": "paid"}, CreatedAt: now, NextAttempt: now}); err != nil {
				return err
			}
		}
		return nil
	}))
}

func readNotification(t *testing.T, st posgate.Store, id string) posgate.Notification {
	t.Helper()
	var n posgate.Notification
	require.NoError(t, st.Read(t.Context(), func(tx posgate.Tx) error {
		var err error
		n, err = tx.Notification(id)
		return err
	}))
	return n
}

// Scans running all the time find the deliveries in flight due too: each
// is still delivered once.
func TestDispatcherScansDoNotDuplicate(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusOK, 5*time.Millisecond)
	st, _ := openDispatched(t, notify.Config{Secret: secret, AllowPrivate: true, Workers: 8}, time.Millisecond)
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("n-%03d", i))
	}
	insertNotifications(t, st, rc.URL, ids...)
	require.Eventually(t, func() bool { return rc.distinct() == len(ids) }, 20*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // scans go on
	for _, id := range ids {
		require.Equal(t, 1, rc.count(id), id)
		require.NotNil(t, readNotification(t, st, id).DeliveredAt, id)
	}
}

// A failing endpoint gets the whole schedule, recorded on the row; an
// operator's replay starts the schedule again.
func TestDispatcherRetriesThenReplay(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusServiceUnavailable, 0)
	st, _ := openDispatched(t, notify.Config{Secret: secret, AllowPrivate: true, Delays: []time.Duration{5 * time.Millisecond}}, time.Hour)
	insertNotifications(t, st, rc.URL, "failing")
	attempts := len(notify.Schedule) + 1
	require.Eventually(t, func() bool {
		n := readNotification(t, st, "failing")
		return n.Attempts == attempts && n.NextAttempt.IsZero()
	}, 20*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	n := readNotification(t, st, "failing")
	require.Equal(t, attempts, n.Attempts, "no attempt after the last")
	require.Equal(t, "HTTP 503", n.LastError)
	require.Nil(t, n.DeliveredAt)

	rc.mu.Lock()
	rc.status = http.StatusNoContent
	rc.mu.Unlock()
	require.NoError(t, st.InTx(t.Context(), func(tx posgate.Tx) error {
		n.NextAttempt = time.Now().UTC()
		if err := tx.UpdateNotification(n); err != nil {
			return err
		}
		return tx.ScheduleNotification(n.ID)
	}))
	require.Eventually(t, func() bool { return readNotification(t, st, "failing").DeliveredAt != nil }, 20*time.Second, 5*time.Millisecond)
	require.Equal(t, attempts+1, readNotification(t, st, "failing").Attempts)
	require.Equal(t, attempts+1, rc.count("failing"))
}

// What was due when the process died (stored, never handed to a running
// dispatcher) is delivered by the next one's scans, more than one scan's
// batch of it.
func TestDispatcherDeliversWhatWasDueAtStart(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusOK, 0)
	path := filepath.Join(t.TempDir(), "posgate.db")
	st, err := sqlite.Open(t.Context(), path, func(context.Context, *sqlite.Store) (sqlite.Dispatch, error) {
		return func([]sqlite.Scheduled) {}, nil // killed before it delivered
	})
	require.NoError(t, err)
	var ids []string
	for i := range 2500 {
		ids = append(ids, fmt.Sprintf("due-%04d", i))
	}
	insertNotifications(t, st, rc.URL, ids...)
	require.NoError(t, st.Close())

	st2, _ := openDispatchedAt(t, path, notify.Config{Secret: secret, AllowPrivate: true}, time.Hour)
	require.Eventually(t, func() bool { return rc.distinct() == len(ids) }, 60*time.Second, 5*time.Millisecond)
	for _, id := range ids {
		require.Equal(t, 1, rc.count(id), id)
	}
	require.Eventually(t, func() bool {
		var undelivered int
		require.NoError(t, st2.DB().QueryRow(`SELECT count(*) FROM notifications WHERE delivered_at IS NULL`).Scan(&undelivered))
		return undelivered == 0
	}, 10*time.Second, 5*time.Millisecond)
}
