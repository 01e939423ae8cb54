package notify

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// shares bounds each merchant's concurrent deliveries in this process, so
// that a slow or dead notify_url holds at most its own merchant's share of
// the workers and never starves the other merchants' notifications.
type shares struct {
	limit int
	// wait is the least time a job over its merchant's share waits before
	// it is fetched again; a random extra of up to as much spreads a
	// backlog's returns.
	wait time.Duration

	mu       sync.Mutex
	inFlight map[int64]int // only merchants with deliveries running

	running  *prometheus.GaugeVec
	deferred *prometheus.CounterVec
}

func newShares(limit int, wait time.Duration) *shares {
	return &shares{
		limit: limit, wait: wait, inFlight: map[int64]int{},
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "posgate_notify_in_flight",
			Help: "Notification deliveries running, by merchant id.",
		}, []string{"merchant_id"}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_notify_deferred_total",
			Help: "Notification deliveries put back because their merchant had its share of workers busy, by merchant id: a merchant whose count grows has a backlog behind a slow endpoint.",
		}, []string{"merchant_id"}),
	}
}

// acquire takes one of the merchant's slots; false when all are busy, and
// the deferral is counted.
func (s *shares) acquire(merchant int64) bool {
	label := strconv.FormatInt(merchant, 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.inFlight[merchant]
	if n >= s.limit {
		s.deferred.WithLabelValues(label).Inc()
		return false
	}
	s.inFlight[merchant] = n + 1
	s.running.WithLabelValues(label).Set(float64(n + 1))
	return true
}

func (s *shares) release(merchant int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.inFlight[merchant] - 1
	if n == 0 {
		delete(s.inFlight, merchant)
	} else {
		s.inFlight[merchant] = n
	}
	s.running.WithLabelValues(strconv.FormatInt(merchant, 10)).Set(float64(n))
}

// retryIn is how long a job over its merchant's share waits.
func (s *shares) retryIn() time.Duration {
	return s.wait + rand.N(s.wait+1)
}

func (s *shares) Describe(ch chan<- *prometheus.Desc) {
	s.running.Describe(ch)
	s.deferred.Describe(ch)
}

func (s *shares) Collect(ch chan<- prometheus.Metric) {
	s.running.Collect(ch)
	s.deferred.Collect(ch)
}
