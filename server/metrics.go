package server

import (
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/prometheus/client_golang/prometheus"
)

// paymentMetrics is the payment service's Observer as Prometheus series
// (documented in docs/operations.md, alerted on in deploy/alerts.yml).
type paymentMetrics struct {
	commands  *prometheus.CounterVec
	roundTrip *prometheus.HistogramVec
	late      *prometheus.CounterVec
	refunds   *prometheus.CounterVec
	captures  *prometheus.CounterVec
}

func newPaymentMetrics() *paymentMetrics {
	return (&paymentMetrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_commands_total",
			Help: "Terminal commands finished, by kind (sale, authorisation, reversal) and outcome (the terminal's: approved, declined, failed, cancelled, expired, interrupted; or abandoned by the cloud).",
		}, []string{"kind", "outcome"}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posgate_command_round_trip_seconds",
			Help: "From a command's creation to its result applied, by kind: the terminal's time, the customer's included.",
			// A reversal takes seconds; a sale waits for the card up to the
			// sale timeout (120 s), and a dropped terminal longer.
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900},
		}, []string{"kind"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_late_results_total",
			Help: "Results that came after the cloud had abandoned their command (cancelled or expired), by kind and outcome; an approved one is reversed (posgate_late_approvals_total).",
		}, []string{"kind", "outcome"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_refunds_total",
			Help: "Refunds that reached their outcome, by outcome: refunded, refund failed, refund error (no clear answer from the acquirer), refund cancel (rejected by an operator).",
		}, []string{"outcome"}),
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_captures_total",
			Help: "Captures answered by the acquirer, by outcome: captured, failed, error (no clear answer).",
		}, []string{"outcome"}),
	}).zeroed()
}

// zeroed creates every series the gateway can report at zero, so a rate or
// an alert on it works before the first event and a missing series means
// a missing gateway.
func (m *paymentMetrics) zeroed() *paymentMetrics {
	outcomes := []posgate.Outcome{posgate.OutcomeApproved, posgate.OutcomeDeclined, posgate.OutcomeFailed,
		posgate.OutcomeCancelled, posgate.OutcomeExpired, posgate.OutcomeInterrupted}
	for _, k := range []posgate.CommandKind{posgate.CommandSale, posgate.CommandAuthorisation, posgate.CommandReversal} {
		m.roundTrip.WithLabelValues(string(k))
		m.commands.WithLabelValues(string(k), payment.OutcomeAbandoned)
		for _, o := range outcomes {
			m.commands.WithLabelValues(string(k), string(o))
			m.late.WithLabelValues(string(k), string(o))
		}
	}
	for _, s := range []posgate.RefundState{posgate.RefundRefunded, posgate.RefundFailed, posgate.RefundError, posgate.RefundCancelled} {
		m.refunds.WithLabelValues(string(s))
	}
	for _, s := range []posgate.CaptureState{posgate.CaptureCaptured, posgate.CaptureFailed, posgate.CaptureError} {
		m.captures.WithLabelValues(string(s))
	}
	return m
}

func (m *paymentMetrics) CommandFinished(kind posgate.CommandKind, outcome string, roundTrip time.Duration) {
	m.commands.WithLabelValues(string(kind), outcome).Inc()
	if outcome != payment.OutcomeAbandoned {
		m.roundTrip.WithLabelValues(string(kind)).Observe(max(roundTrip, 0).Seconds())
	}
}

func (m *paymentMetrics) LateResult(kind posgate.CommandKind, outcome posgate.Outcome) {
	m.late.WithLabelValues(string(kind), string(outcome)).Inc()
}

func (m *paymentMetrics) RefundFinished(state posgate.RefundState) {
	m.refunds.WithLabelValues(string(state)).Inc()
}

func (m *paymentMetrics) CaptureFinished(state posgate.CaptureState) {
	m.captures.WithLabelValues(string(state)).Inc()
}

func (m *paymentMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.commands, m.roundTrip, m.late, m.refunds, m.captures}
}
