package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/sqlite"
)

// hit is one POST the receiver got.
type hit struct {
	ID, Timestamp, UserAgent, ContentType string
	Body                                  []byte
	Status                                int
}

// receiver is a merchant's notification endpoint on loopback. answer
// chooses the status of the nth POST (1-based) with a given Webhook-Id.
type receiver struct {
	URL     string
	mu      sync.Mutex
	hits    []hit
	perID   map[string]int
	answer  func(id string, n int) int
	changed chan struct{} // closed and replaced on every hit
}

func newReceiver(t testing.TB, answer func(id string, n int) int) *receiver {
	r := &receiver{perID: map[string]int{}, answer: answer, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		id := req.Header.Get("Webhook-Id")
		r.perID[id]++
		h := hit{ID: id, Timestamp: req.Header.Get("Webhook-Timestamp"), UserAgent: req.UserAgent(),
			ContentType: req.Header.Get("Content-Type"), Body: body, Status: r.answer(id, r.perID[id])}
		r.hits = append(r.hits, h)
		close(r.changed)
		r.changed = make(chan struct{})
		if h.Status >= 300 && h.Status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(h.Status)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/notify"
	return r
}

func always(status int) func(string, int) int { return func(string, int) int { return status } }

// wait returns the hits once cond holds for them.
func (r *receiver) wait(t testing.TB, what string, cond func([]hit) bool) []hit {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		hits, changed := append([]hit(nil), r.hits...), r.changed
		r.mu.Unlock()
		if cond(hits) {
			return hits
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("receiver: %s never happened; got %d hits", what, len(hits))
		}
	}
}

// delivered waits for a 2xx answer to Webhook-Id id.
func (r *receiver) delivered(t testing.TB, id string) []hit {
	t.Helper()
	return r.wait(t, "delivery of "+id, func(hs []hit) bool {
		for _, h := range hs {
			if h.ID == id && h.Status < 300 {
				return true
			}
		}
		return false
	})
}

// fastRetries lets private addresses through and retries at once.
func fastRetries(c *server.Config) {
	c.AllowPrivateNotify = true
	c.NotifyDelays = []time.Duration{10 * time.Millisecond}
}

// cancelled seeds a paid order notifying url and cancels it through the
// API, which writes one notification; it returns that notification.
func (g *gateway) cancelled(t *testing.T, tid, secret, notifyURL string, mods ...func(*posgate.Order)) posgate.Notification {
	t.Helper()
	o := g.seedOrder(tid, posgate.StatePaid, append(mods, func(o *posgate.Order) { o.NotifyURL = notifyURL })...)
	r := call(t, g.client(tid, secret), "v3.CancelPayment", map[string]string{"trade_id": o.TradeID})
	require.True(t, r.Status, "cancel: %s %s", r.Code, r.Message)
	ns, err := g.G.Service.Notifications(context.Background(), false, 1000)
	require.NoError(t, err)
	for _, n := range ns {
		if n.TradeID == o.TradeID {
			return n
		}
	}
	t.Fatalf("no notification for %s", o.TradeID)
	return posgate.Notification{}
}

// row reads a notification until cond holds: the row is updated after the
// receiver answers, so this waits on the gateway's own record.
func (g *gateway) row(t *testing.T, id string, cond func(posgate.Notification) bool) posgate.Notification {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n posgate.Notification
		require.NoError(t, g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
			var err error
			n, err = tx.Notification(id)
			return err
		}))
		if cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s: condition not reached; row %+v", id, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verify checks a body as a merchant would: url-decode it as the PHP SDK
// does, parse it, and check the signature over data.
func verify(t *testing.T, secret string, body []byte) map[string]string {
	t.Helper()
	decoded, err := url.QueryUnescape(string(body))
	require.NoError(t, err)
	var n protocol.Notification
	require.NoError(t, json.Unmarshal([]byte(decoded), &n), "body %s", body)
	require.True(t, protocol.Verify(secret, protocol.StringToSign(n.Data), n.Sign), "signature of %s", decoded)
	return n.Data
}

func TestNotifyDelivered(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY1", "")
	rcv := newReceiver(t, always(http.StatusOK))
	n := g.cancelled(t, "TNOTIFY1", secret, rcv.URL)

	hits := rcv.delivered(t, n.ID)
	require.Len(t, hits, 1)
	h := hits[0]
	data := verify(t, secret, h.Body)
	require.Equal(t, n.TradeID, data["trade_id"])
	require.Equal(t, "cancelled", data["state"])
	require.Equal(t, "TNOTIFY1", data["user"])
	require.Equal(t, "application/json", h.ContentType)
	require.Equal(t, notify.UserAgent, h.UserAgent)
	ts, err := strconv.ParseInt(h.Timestamp, 10, 64)
	require.NoError(t, err)
	require.InDelta(t, time.Now().Unix(), ts, 60)

	row := g.row(t, n.ID, func(n posgate.Notification) bool { return n.DeliveredAt != nil })
	require.Equal(t, 1, row.Attempts)
	require.Empty(t, row.LastError)
	// Counted once delivered: the attempt, and its lag since creation.
	for deadline := time.Now().Add(10 * time.Second); g.metric(t, `posgate_notification_delivery_lag_seconds_count`) < 1; time.Sleep(5 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the delivery's lag was never observed")
	}
	require.Equal(t, 1.0, g.metric(t, `posgate_notification_attempts_total{result="delivered"}`))
	require.Equal(t, 0.0, g.metric(t, `posgate_notification_attempts_total{result="failed"}`))
}

func TestNotifyBodyEscapes(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY2", "")
	rcv := newReceiver(t, always(http.StatusOK))
	const desc = `1+1=2 100% & "quoted" café 日本 %2B`
	n := g.cancelled(t, "TNOTIFY2", secret, rcv.URL, func(o *posgate.Order) { o.Description = desc })

	h := rcv.delivered(t, n.ID)[0]
	require.NotContains(t, string(h.Body), "+", "a url-decoder would turn it into a space")
	require.NotContains(t, string(h.Body), "%")
	require.Equal(t, desc, verify(t, secret, h.Body)["description"])
}

func TestNotifyRetriesKeepTheID(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY3", "")
	rcv := newReceiver(t, func(_ string, n int) int {
		if n <= 5 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	n := g.cancelled(t, "TNOTIFY3", secret, rcv.URL)

	rcv.delivered(t, n.ID)
	row := g.row(t, n.ID, func(n posgate.Notification) bool { return n.DeliveredAt != nil })
	require.Equal(t, 6, row.Attempts)
	require.Empty(t, row.LastError)
	require.True(t, row.NextAttempt.IsZero())

	rcv.mu.Lock()
	hits := append([]hit(nil), rcv.hits...)
	rcv.mu.Unlock()
	require.Len(t, hits, 6, "five failures, one success, nothing after")
	ok := 0
	for _, h := range hits {
		require.Equal(t, n.ID, h.ID)
		verify(t, secret, h.Body)
		if h.Status == http.StatusOK {
			ok++
		}
	}
	require.Equal(t, 1, ok)
}

func TestNotifyRedirectIsFailure(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY4", "")
	rcv := newReceiver(t, func(_ string, n int) int {
		if n == 1 {
			return http.StatusFound
		}
		return http.StatusOK
	})
	n := g.cancelled(t, "TNOTIFY4", secret, rcv.URL)

	hits := rcv.delivered(t, n.ID)
	require.Len(t, hits, 2, "the redirect was not followed, the retry delivered")
	require.Equal(t, http.StatusFound, hits[0].Status)
	row := g.row(t, n.ID, func(n posgate.Notification) bool { return n.DeliveredAt != nil })
	require.Equal(t, 2, row.Attempts)
}

func TestNotifyPrivateAddressRefused(t *testing.T) {
	t.Parallel()
	g := start(t, func(c *server.Config) { c.NotifyDelays = []time.Duration{time.Hour} })
	secret := g.addTerminal("Shop A", "TNOTIFY5", "")
	rcv := newReceiver(t, always(http.StatusOK))
	n := g.cancelled(t, "TNOTIFY5", secret, rcv.URL)

	row := g.row(t, n.ID, func(n posgate.Notification) bool { return n.Attempts > 0 })
	require.Nil(t, row.DeliveredAt)
	require.Contains(t, row.LastError, "refused: 127.0.0.1 is a loopback address")
	require.NotContains(t, row.LastError, "/notify", "the URL may carry a token")
	require.WithinDuration(t, time.Now().Add(time.Hour), row.NextAttempt, time.Minute)
	rcv.mu.Lock()
	require.Empty(t, rcv.hits)
	rcv.mu.Unlock()
}

func TestNotifyRolledBackSendsNothing(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY6", "")
	rcv := newReceiver(t, always(http.StatusOK))
	o := g.seedOrder("TNOTIFY6", posgate.StatePaid, func(o *posgate.Order) { o.NotifyURL = rcv.URL })

	errBoom := errors.New("boom")
	err := g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
		o.State = posgate.StateCancelled
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.InsertNotification(posgate.Notification{ID: "rolled-back", MerchantID: o.MerchantID, User: o.User,
			TradeID: o.TradeID, NotifyURL: o.NotifyURL, Payload: map[string]string{"state": "cancelled"}, CreatedAt: now, NextAttempt: now}); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	// A committed change after it is delivered; by then the rolled-back
	// one would have been queued too, had it been.
	n := g.cancelled(t, "TNOTIFY6", secret, rcv.URL)
	hits := rcv.delivered(t, n.ID)
	require.Len(t, hits, 1)

	db := g.G.Store.(*sqlite.Store).DB()
	var rows int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM notifications WHERE id = 'rolled-back'`).Scan(&rows))
	require.Zero(t, rows)
}

func TestNotifySurvivesRestart(t *testing.T) {
	t.Parallel()
	db := t.TempDir() + "/posgate.db"
	var up sync.Mutex
	failing := true
	rcv := newReceiver(t, func(string, int) int {
		up.Lock()
		defer up.Unlock()
		if failing {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	})
	var n posgate.Notification
	var secret string
	t.Run("before", func(t *testing.T) {
		g := start(t, fastRetries, func(c *server.Config) { c.DB = db })
		secret = g.addTerminal("Shop A", "TNOTIFY7", "")
		n = g.cancelled(t, "TNOTIFY7", secret, rcv.URL)
		rcv.wait(t, "a failed attempt", func(hs []hit) bool { return len(hs) > 0 })
	}) // the gateway stops here, with the delivery pending
	up.Lock()
	failing = false
	up.Unlock()

	start(t, fastRetries, func(c *server.Config) { c.DB = db })
	hits := rcv.delivered(t, n.ID)
	require.Equal(t, http.StatusNoContent, hits[len(hits)-1].Status)
	verify(t, secret, hits[len(hits)-1].Body)
}

func TestNotifyAdminListAndReplay(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TNOTIFY8", "")
	rcv := newReceiver(t, always(http.StatusOK))
	n := g.cancelled(t, "TNOTIFY8", secret, rcv.URL)
	rcv.delivered(t, n.ID)
	g.row(t, n.ID, func(n posgate.Notification) bool { return n.DeliveredAt != nil })

	admin := func(method, path string) (int, map[string]any) {
		req, err := http.NewRequest(method, g.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer test-admin-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return resp.StatusCode, v
	}
	status, v := admin("GET", "/admin/v1/notifications")
	require.Equal(t, http.StatusOK, status)
	list := v["notifications"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, n.ID, list[0].(map[string]any)["id"])
	status, v = admin("GET", "/admin/v1/notifications?failed=1")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, v["notifications"])

	status, _ = admin("POST", "/admin/v1/notifications/"+n.ID+"/replay")
	require.Equal(t, http.StatusAccepted, status)
	hits := rcv.wait(t, "the replay", func(hs []hit) bool { return len(hs) == 2 })
	require.Equal(t, n.ID, hits[1].ID, "same Webhook-Id")
	require.Equal(t, verify(t, secret, hits[0].Body), verify(t, secret, hits[1].Body))
	row := g.row(t, n.ID, func(n posgate.Notification) bool { return n.DeliveredAt != nil && n.Attempts == 2 })
	require.Equal(t, 2, row.Attempts)

	status, _ = admin("POST", "/admin/v1/notifications/no-such-id/replay")
	require.Equal(t, http.StatusNotFound, status)
}
