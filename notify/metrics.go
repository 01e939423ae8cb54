package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deliveries measures what an operator alerts on: how long merchants wait
// for their notifications, and the attempts that fail.
type deliveries struct {
	lag      prometheus.Histogram
	attempts *prometheus.CounterVec
}

func newDeliveries() *deliveries {
	d := &deliveries{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "posgate_notification_delivery_lag_seconds",
			Help: "From a notification's creation to its delivery (the merchant's 2xx), retries and replays included.",
			// From a prompt first attempt to the last retry of the schedule.
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_notification_attempts_total",
			Help: "Notification delivery attempts by result: delivered, or failed (an error, a timeout or a non-2xx answer; retried on the schedule).",
		}, []string{"result"}),
	}
	// At zero from the start: an alert on their rate works before the
	// first delivery.
	d.attempts.WithLabelValues("delivered")
	d.attempts.WithLabelValues("failed")
	return d
}

func (d *deliveries) delivered(lag time.Duration) {
	d.attempts.WithLabelValues("delivered").Inc()
	d.lag.Observe(max(lag, 0).Seconds())
}

func (d *deliveries) failed() { d.attempts.WithLabelValues("failed").Inc() }

func (d *deliveries) Describe(ch chan<- *prometheus.Desc) {
	d.lag.Describe(ch)
	d.attempts.Describe(ch)
}

func (d *deliveries) Collect(ch chan<- prometheus.Metric) {
	d.lag.Collect(ch)
	d.attempts.Collect(ch)
}
