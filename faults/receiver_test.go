package faults

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/posgate/posgate/sdk"
)

// receiverMode is how the merchant's notification endpoint behaves.
type receiverMode int

const (
	receiverUp   receiverMode = iota
	receiverDown              // answers 503: the delivery fails and is retried
	receiverSlow              // holds the request until released or switched
)

// receiver is the merchant's notification endpoint: it verifies each
// signature and records the states it accepted, per trade and per refund.
type receiver struct {
	URL string

	mu       sync.Mutex
	mode     receiverMode
	release  chan struct{} // closed to let held requests go
	arrived  int           // requests seen, accepted or not
	accepted map[string][]string
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{accepted: map[string][]string{}, release: make(chan struct{})}
	verify := sdk.NotificationHandler(sdk.SecretMap(map[string]string{tid: secret}), func(n sdk.Notification) error {
		key := n.TradeID()
		if id := n.Data["refund_id"]; id != "" {
			key = id
		}
		r.mu.Lock()
		r.accepted[key] = append(r.accepted[key], n.State())
		r.mu.Unlock()
		return nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.arrived++
		mode, release := r.mode, r.release
		r.mu.Unlock()
		switch mode {
		case receiverDown:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case receiverSlow:
			select {
			case <-release:
			case <-req.Context().Done():
				return
			}
		}
		verify.ServeHTTP(w, req)
	}))
	t.Cleanup(func() { r.set(receiverUp); srv.Close() })
	r.URL = srv.URL + "/notify"
	return r
}

// set switches the mode; leaving receiverSlow lets held requests through.
func (r *receiver) set(m receiverMode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == receiverSlow && m != receiverSlow {
		close(r.release)
		r.release = make(chan struct{})
	}
	r.mode = m
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.arrived
}

func (r *receiver) states(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.accepted[key]...)
}
