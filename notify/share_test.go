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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/sqlite"
)

// tarpit is a notify_url that takes every request and never answers until
// the test ends. It reports each arrival and the most requests it held at
// once.
type tarpit struct {
	URL     string
	arrived chan struct{}
	release chan struct{}

	mu            sync.Mutex
	held, maxHeld int
}

func newTarpit(t *testing.T) *tarpit {
	p := &tarpit{arrived: make(chan struct{}, 1000), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.held++
		p.maxHeld = max(p.maxHeld, p.held)
		p.mu.Unlock()
		p.arrived <- struct{}{}
		select {
		case <-p.release:
		case <-r.Context().Done():
		}
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/notify"
	return p
}

func TestSlowMerchantKeepsToItsShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const workers, perMerchant, backlog = 10, 2, 40
	st, q := openDispatched(t, notify.Config{
		Secret:       func(context.Context, string) (string, error) { return "secret", nil },
		AllowPrivate: true,
		Delays:       []time.Duration{time.Hour},
		Workers:      workers,
		PerMerchant:  perMerchant,
		ShareWait:    20 * time.Millisecond,
	}, 0)
	var err error

	slow := newTarpit(t)
	delivered := make(chan string, 1)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered <- r.Header.Get("Webhook-Id")
	}))
	t.Cleanup(fast.Close)

	// Cleanups run last first: release the tarpit, then stop the
	// dispatcher.
	t.Cleanup(func() { close(slow.release) })

	var a, b posgate.Merchant
	now := time.Now().UTC()
	require.NoError(t, st.InTx(ctx, func(tx posgate.Tx) error {
		if a, err = tx.EnsureMerchant("Slow Shop", now); err != nil {
			return err
		}
		b, err = tx.EnsureMerchant("Fast Shop", now)
		return err
	}))
	insert := func(m posgate.Merchant, url string, ids ...string) {
		require.NoError(t, st.InTx(ctx, func(tx posgate.Tx) error {
			for _, id := range ids {
				if err := tx.InsertNotification(posgate.Notification{ID: id, MerchantID: m.ID, User: "U", TradeID: id,
					NotifyURL: url, Payload: map[string]string{"state": "paid"}, CreatedAt: now, NextAttempt: now}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	var ids []string
	for i := range backlog {
		ids = append(ids, fmt.Sprintf("slow-%d", i))
	}
	insert(a, slow.URL, ids...)
	for range perMerchant {
		select {
		case <-slow.arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the slow merchant's deliveries never started")
		}
	}

	insert(b, fast.URL, "fast")
	select {
	case id := <-delivered:
		require.Equal(t, "fast", id)
	case <-time.After(5 * time.Second):
		t.Fatal("the fast merchant's notification waited behind the slow one's backlog")
	}

	slow.mu.Lock()
	require.Equal(t, perMerchant, slow.maxHeld, "the slow merchant held more than its share")
	slow.mu.Unlock()
	require.Equal(t, float64(perMerchant), value(t, q, "posgate_notify_in_flight", a.ID))
	// The backlog shows once the slow merchant's waiting deliveries have
	// come round to a worker, which they may do after the fast one's.
	require.Eventually(t, func() bool { return value(t, q, "posgate_notify_deferred_total", a.ID) > 0 },
		20*time.Second, 10*time.Millisecond, "the backlog shows")

	// A deferral is not an attempt: the waiting deliveries have spent
	// none, though they were put back (the two held are not done either).
	var spent int
	require.NoError(t, st.DB().QueryRow(`SELECT count(*) FROM notifications WHERE id LIKE 'slow-%' AND attempts > 0`).Scan(&spent))
	require.Zero(t, spent)
}

// openDispatched opens a store whose notifications cfg's Dispatcher
// delivers (cfg.Store is set to it), started, and stopped at cleanup after
// the cleanups registered later.
func openDispatched(t *testing.T, cfg notify.Config, poll time.Duration) (*sqlite.Store, *notify.Dispatcher) {
	t.Helper()
	return openDispatchedAt(t, filepath.Join(t.TempDir(), "posgate.db"), cfg, poll)
}

// openDispatchedAt is openDispatched on the database at path.
func openDispatchedAt(t *testing.T, path string, cfg notify.Config, poll time.Duration) (*sqlite.Store, *notify.Dispatcher) {
	t.Helper()
	var d *notify.Dispatcher
	st, err := sqlite.Open(t.Context(), path, func(ctx context.Context, s *sqlite.Store) (sqlite.Dispatch, error) {
		cfg.Store = s
		var err error
		d, err = notify.NewDispatcher(cfg, s.Due, poll)
		if err != nil {
			return nil, err
		}
		return d.Committed, nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, d.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, d.Stop(context.Background())) })
	return st, d
}

// value is the queue's metric name for a merchant.
func value(t *testing.T, q prometheus.Collector, name string, merchant int64) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(q))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == name && m.GetLabel()[0].GetValue() == fmt.Sprint(merchant) {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s for merchant %d", name, merchant)
	return 0
}
