package clustertest

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/posgate/posgate/sdk"
)

// receiver is the merchant's notification endpoint: it verifies each
// signature and records the states it accepted, per trade (or refund).
type receiver struct {
	URL string

	mu       sync.Mutex
	accepted map[string][]string
}

func newReceiver(t testing.TB, secrets sdk.Secrets) *receiver {
	r := &receiver{accepted: map[string][]string{}}
	srv := httptest.NewServer(sdk.NotificationHandler(secrets, func(n sdk.Notification) error {
		key := n.TradeID()
		if id := n.Data["refund_id"]; id != "" {
			key = id
		}
		r.mu.Lock()
		r.accepted[key] = append(r.accepted[key], n.State())
		r.mu.Unlock()
		return nil
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/notify"
	return r
}

func (r *receiver) states(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.accepted[key]...)
}

// got reports whether a notification with state arrived for key.
func (r *receiver) got(key, state string) bool {
	for _, s := range r.states(key) {
		if s == state {
			return true
		}
	}
	return false
}
