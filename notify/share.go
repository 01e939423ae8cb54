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
//
// A merchant whose last delivery succeeded quickly may also borrow idle
// workers beyond its share, as long as a share's worth stays free for the
// others: a busy merchant with a healthy endpoint keeps the throughput of
// the whole pool (a hard share alone cut it tenfold, as each delivery waits
// for its commit), and one that turns slow returns to its share as its
// borrowed attempts end, within AttemptTimeout.
type shares struct {
	limit   int
	workers int
	// wait is the least time a job over its merchant's share waits before
	// it is fetched again; a random extra of up to as much spreads a
	// backlog's returns.
	wait time.Duration

	mu       sync.Mutex
	inFlight map[int64]int // only merchants with deliveries running
	total    int
	healthy  map[int64]bool // last delivery succeeded within quickly

	running  *prometheus.GaugeVec
	deferred *prometheus.CounterVec
}

// quickly is how fast a successful delivery must be for its merchant to
// borrow idle workers.
const quickly = time.Second

func newShares(limit, workers int, wait time.Duration) *shares {
	return &shares{
		limit: limit, workers: workers, wait: wait, inFlight: map[int64]int{}, healthy: map[int64]bool{},
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

// acquire takes one of the merchant's slots, or an idle worker for a
// healthy merchant; false when neither is free, and the deferral is
// counted.
func (s *shares) acquire(merchant int64) bool {
	label := strconv.FormatInt(merchant, 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.inFlight[merchant]
	if n >= s.limit && !(s.healthy[merchant] && s.total < s.workers-s.limit) {
		s.deferred.WithLabelValues(label).Inc()
		return false
	}
	s.total++
	s.inFlight[merchant] = n + 1
	s.running.WithLabelValues(label).Set(float64(n + 1))
	return true
}

// release returns the slot of a delivery that took took; ok when it
// succeeded.
func (s *shares) release(merchant int64, ok bool, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthy[merchant] = ok && took < quickly
	s.total--
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
