package main

import (
	"encoding/json"
	"strings"
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

// A sale that waits for its notification makes a cycle without one
// v3.QueryOrder; the progress goes to a pipe one line per second, and the
// report ends with a row for docs/benchmarks.md.
func TestBenchWaitsForNotifications(t *testing.T) {
	out, stderr, err := runBin(t, nil, "bench", "--duration", "2s", "--terminals", "2", "--concurrency", "2", "--scenario", "reversal", "--wait", "notification")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "sales wait by notification")
	require.Contains(t, out, "errors      posgate: none", "no sale fell back to polling")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "   posgate") {
			require.NotContains(t, line, "v3.QueryOrder", "posgate's sales were polled")
		}
	}
	require.Regexp(t, `(?m)^summary     \| `+"`"+`posgate bench --scenario reversal --wait notification --terminals 2 --concurrency 2 --duration 2s`+"`"+`, \d{4}-\d\d-\d\d \| [0-9.]+ cycles/s \| [0-9.]+ cycles/s \| [0-9.]+ \| .+ \|$`, out)
	require.NotContains(t, stderr, "\r", "a pipe gets whole lines, not a redrawn one")
	require.Regexp(t, `(?m)^posgate +[0-9.]+s/2s  cycles`, stderr)
}

func TestBenchRefusesUnknownWait(t *testing.T) {
	_, stderr, err := runBin(t, nil, "bench", "--duration", "1s", "--wait", "sometimes")
	require.Error(t, err)
	require.Contains(t, stderr, `unknown --wait "sometimes": poll or notification`)
}
