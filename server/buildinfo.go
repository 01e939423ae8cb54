package server

import (
	"github.com/posgate/posgate/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfoCollector is the posgate_build_info gauge, always 1, whose
// labels say which build is serving: dashboards join it to other series to
// see what a rollout changed.
func BuildInfoCollector() prometheus.Collector {
	info := buildinfo.Read()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "posgate_build_info",
		Help: "The running build of posgate; always 1.",
		ConstLabels: prometheus.Labels{
			"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion,
		},
	})
	g.Set(1)
	return g
}
