package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IdleReport is the idle scenario's figures: what a connected terminal
// that only heartbeats costs the gateway.
type IdleReport struct {
	HeartbeatSeconds      float64 `json:"heartbeat_seconds"`
	RSSBeforeBytes        int64   `json:"rss_before_bytes"`
	RSSAfterBytes         int64   `json:"rss_after_bytes"`
	RSSPerTerminalBytes   float64 `json:"rss_per_terminal_bytes"`
	CPUShare              float64 `json:"cpu_share"` // CPU seconds per wall second, 1 = one core
	HeartbeatsPerSecond   float64 `json:"heartbeats_per_second"`
	CPUMicrosPerHeartbeat float64 `json:"cpu_us_per_heartbeat"`
	MeasuredSeconds       float64 `json:"measured_seconds"`
	// From the gateway's /metrics after the run: where the memory is.
	HeapInuseBytes  float64 `json:"heap_inuse_bytes"`
	StackInuseBytes float64 `json:"stack_inuse_bytes"`
	Goroutines      float64 `json:"goroutines"`
}

// runIdle starts a gateway, connects cfg.Terminals simulated terminals,
// lets them heartbeat for cfg.Duration, and reads the gateway's memory and
// CPU time.
func runIdle(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Server != "" {
		return nil, fmt.Errorf("the idle scenario measures the gateway's process, so it starts its own: drop --server")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Duration < cfg.Heartbeat {
		return nil, fmt.Errorf("--duration must cover at least one heartbeat interval (%v)", cfg.Heartbeat)
	}
	rep := &Report{Machine: machine(), Scenario: cfg.Scenario, Terminals: cfg.Terminals}
	dir, err := os.MkdirTemp("", "posgate-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "posgate.db")
	key := randomKey()
	getenv := func(k string) string {
		if k == "POSGATE_MASTER_KEY" {
			return key
		}
		return cfg.Getenv(k)
	}
	if err := provision(ctx, getenv, db, cfg.Terminals); err != nil {
		return nil, err
	}
	args := []string{"serve", "--acquirer", "simulated", "--db", db, "--log-level", "warn", "--heartbeat", cfg.Heartbeat.String(),
		// Every terminal connects from this one address at once: that is
		// the scenario, not an attack.
		"--rate-hello", "1e9", "--rate-hello-burst", "1e9", "--rate-accept", "1e9", "--rate-accept-burst", "1e9",
		// The terminals plus room for the clients and /metrics.
		"--max-conns", strconv.Itoa(cfg.Terminals + 1000)}
	args = append(args, cfg.ServeArgs...)
	gw, err := startChild(ctx, cfg.Binary, []string{"POSGATE_MASTER_KEY=" + key, "POSGATE_ADMIN_TOKEN=bench"}, args...)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	pid := gw.cmd.Process.Pid
	idle := &IdleReport{HeartbeatSeconds: cfg.Heartbeat.Seconds(), RSSBeforeBytes: rss(pid)}
	stop, err := connectTerminals(ctx, gw.URL, cfg.Terminals)
	if err != nil {
		return nil, err
	}
	defer stop()
	cpu0, t0 := cpuSeconds(pid), time.Now()
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "%d terminals connected; measuring for %v\n", cfg.Terminals, cfg.Duration)
	}
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	wall := time.Since(t0).Seconds()
	cpu := cpuSeconds(pid) - cpu0
	idle.RSSAfterBytes = rss(pid)
	m := goMetrics(gw.URL)
	idle.HeapInuseBytes, idle.StackInuseBytes, idle.Goroutines = m["go_memstats_heap_inuse_bytes"], m["go_memstats_stack_inuse_bytes"], m["go_goroutines"]
	idle.RSSPerTerminalBytes = float64(idle.RSSAfterBytes-idle.RSSBeforeBytes) / float64(cfg.Terminals)
	idle.MeasuredSeconds = wall
	idle.CPUShare = cpu / wall
	idle.HeartbeatsPerSecond = float64(cfg.Terminals) / cfg.Heartbeat.Seconds()
	idle.CPUMicrosPerHeartbeat = cpu / (idle.HeartbeatsPerSecond * wall) * 1e6
	rep.Idle = idle
	rep.DurationSeconds = wall
	rep.ServerRSSBytes = idle.RSSAfterBytes
	return rep, nil
}

// goMetrics reads the Go runtime gauges from a gateway's /metrics.
func goMetrics(base string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "go_") {
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				out[name] = v
			}
		}
	}
	return out
}
