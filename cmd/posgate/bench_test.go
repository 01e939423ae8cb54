package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchJSON(t *testing.T) {
	out, stderr, err := runBin(t, nil, "bench", "--duration", "1s", "--terminals", "2", "--concurrency", "2", "--scenario", "reversal", "--json")
	require.NoError(t, err, stderr)
	var rep struct {
		Cycles          int64   `json:"cycles"`
		CyclesPerSecond float64 `json:"cycles_per_second"`
		Ratio           float64 `json:"ratio_vs_baseline"`
		LatencyMS       map[string]struct {
			P99 float64 `json:"p99"`
		} `json:"latency_ms"`
		ServerRSS int64 `json:"server_rss_bytes"`
		Baseline  struct {
			Cycles int64 `json:"cycles"`
		} `json:"baseline"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Positive(t, rep.Cycles)
	require.Positive(t, rep.Baseline.Cycles)
	require.Positive(t, rep.Ratio)
	require.Positive(t, rep.ServerRSS)
	require.Contains(t, rep.LatencyMS, "v3.POSReversal")
}

func TestBenchIdle(t *testing.T) {
	out, stderr, err := runBin(t, nil, "bench", "--scenario", "idle", "--terminals", "20", "--heartbeat", "200ms", "--duration", "1s")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "KiB RSS per terminal")
	require.Contains(t, out, "µs CPU per heartbeat")
}
