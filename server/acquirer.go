package server

import (
	"log/slog"

	"github.com/posgate/posgate/acquirer"
	"github.com/prometheus/client_golang/prometheus"
)

// announceAcquirer makes a simulated acquirer visible where operators
// look, since its refunds answer "refunded" while no money moves: a
// warning at start and the posgate_acquirer_simulated gauge (1 when
// simulated, 0 otherwise, so an alert can fire on it). /readyz and the
// refunds' acquirer field say it to merchants (httpapi).
func announceAcquirer(log *slog.Logger, a acquirer.Acquirer) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "posgate_acquirer_simulated",
		Help: "1 when refunds go to the simulated acquirer and no money moves.",
	})
	if acquirer.IsSimulated(a) {
		g.Set(1)
		log.Warn("refunds go to the SIMULATED acquirer: they answer refunded and no money moves (acquirer=simulated)")
	}
	return g
}
