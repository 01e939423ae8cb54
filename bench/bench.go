// Package bench is `posgate bench`: a load benchmark that provisions what it
// needs, connects simulated terminals, drives full merchant cycles from
// concurrent clients, and measures in the same run a baseline that does the
// same irreducible work with nothing else: verify the HMAC, one durable
// SQLite commit, one WebSocket round trip to a bare terminal.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/server"
)

// Scenarios.
const (
	ScenarioReversal = "reversal" // sale, wait until paid, reversal
	ScenarioSale     = "sale"     // sale, wait until paid
	ScenarioQuery    = "query"    // v3.QueryOrder of a paid order
	ScenarioIdle     = "idle"     // connect terminals, measure memory and heartbeat cost
)

// How a sale's merchant learns that the order is paid.
const (
	WaitPoll         = "poll"         // v3.QueryOrder, 1 ms doubling to 20 ms
	WaitNotification = "notification" // the order's signed notification, as a real till's back end does
)

// Config is one benchmark run.
type Config struct {
	// Server is the gateway to load; empty starts one (`posgate serve` as a
	// child process on a temporary SQLite database) and a baseline beside it.
	// Several comma-separated URLs are the nodes of one cluster: terminal i
	// connects to the (i mod n)th, and its clients call the next one, so
	// every command is routed.
	Server string
	// DB is the target gateway's database, where the benchmark provisions
	// its terminals (only with Server).
	DB          string
	Binary      string // the posgate binary to start children from
	Terminals   int
	Concurrency int
	Duration    time.Duration
	Scenario    string
	Heartbeat   time.Duration // idle scenario: the gateway's heartbeat interval
	Wait        string        // WaitPoll or WaitNotification (the baseline always polls: it notifies nothing)
	Progress    io.Writer     // the live progress line; nil for none
	// ProgressLive redraws the progress line in place (Progress is a
	// terminal); otherwise one line is printed per interval.
	ProgressLive bool
	ServeArgs    []string // extra flags for the posgate serve it starts (e.g. --cpuprofile)
	Getenv       func(string) string

	notifyURL string    // the benchmark's own merchant endpoint
	receiver  *receiver // it, for sales that wait for their notification
}

// Report holds every figure of a run; it is what --json prints.
type Report struct {
	Machine         string             `json:"machine"`
	Scenario        string             `json:"scenario"`
	Wait            string             `json:"wait,omitempty"`
	Terminals       int                `json:"terminals"`
	Concurrency     int                `json:"concurrency"`
	DurationSeconds float64            `json:"duration_seconds"`
	Cycles          int64              `json:"cycles"`
	CyclesPerSecond float64            `json:"cycles_per_second"`
	LatencyMS       map[string]Latency `json:"latency_ms"`
	ErrorsByCode    map[string]int64   `json:"errors_by_code"`
	ServerRSSBytes  int64              `json:"server_rss_bytes"`
	// ServerCPUMillisPerCycle is the gateway's CPU time per cycle (user
	// plus system), only when the benchmark started it.
	ServerCPUMillisPerCycle float64 `json:"server_cpu_ms_per_cycle,omitempty"`
	// NotificationsReceived counts what the benchmark's merchant endpoint
	// got: posgate notifies every state change, the baseline nothing.
	NotificationsReceived int64           `json:"notifications_received"`
	Baseline              *BaselineReport `json:"baseline,omitempty"`
	RatioVsBaseline       float64         `json:"ratio_vs_baseline,omitempty"`
	Idle                  *IdleReport     `json:"idle,omitempty"`
	Notes                 []string        `json:"notes,omitempty"`
}

// BaselineReport is the baseline's share of a run.
type BaselineReport struct {
	CyclesPerSecond         float64            `json:"cycles_per_second"`
	Cycles                  int64              `json:"cycles"`
	LatencyMS               map[string]Latency `json:"latency_ms"`
	ErrorsByCode            map[string]int64   `json:"errors_by_code"`
	ServerRSSBytes          int64              `json:"server_rss_bytes"`
	ServerCPUMillisPerCycle float64            `json:"server_cpu_ms_per_cycle"`
}

// Latency summarises one method's answers.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Run runs the benchmark cfg describes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Terminals < 1 || cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return nil, errors.New("--terminals, --concurrency and --duration must be positive")
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	switch cfg.Wait {
	case "":
		cfg.Wait = WaitPoll
	case WaitPoll, WaitNotification:
	default:
		return nil, fmt.Errorf("unknown --wait %q: poll or notification", cfg.Wait)
	}
	switch cfg.Scenario {
	case ScenarioReversal, ScenarioSale, ScenarioQuery:
		return runLoad(ctx, cfg)
	case ScenarioIdle:
		return runIdle(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown scenario %q: reversal, sale, query or idle", cfg.Scenario)
}

// machine describes where the figures were measured.
func machine() string {
	model := "unknown cpu"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// tid names the benchmark's i-th terminal.
func tid(i int) string { return fmt.Sprintf("BENCH%05d", i) }

// secretOf derives a bench terminal's secret from its TID, so a run
// against a gateway provisioned by an earlier run still knows it, and the
// baseline server can verify without being told.
func secretOf(tid string) string {
	h := sha256.Sum256([]byte("posgate-bench:" + tid))
	return hex.EncodeToString(h[:])
}

// provision adds the benchmark's terminals to the database dsn, keeping
// those an earlier run added.
func provision(ctx context.Context, getenv func(string) string, dsn string, terminals int) error {
	app, err := server.OpenApp(ctx, server.Config{DB: dsn, Getenv: getenv})
	if err != nil {
		return err
	}
	defer app.Close()
	now := time.Now()
	for i := range terminals {
		_, err := payment.AddTerminal(ctx, app.Store, app.Sealer, payment.NewTerminal{Merchant: "Bench Shop", TID: tid(i), Secret: secretOf(tid(i))}, now)
		if err != nil && !errors.Is(err, posgate.ErrDuplicate) {
			return err
		}
	}
	return nil
}

// child is a server process the benchmark started.
type child struct {
	cmd  *exec.Cmd
	URL  string
	done chan error
}

// freeAddr picks a loopback port for a child to listen on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild runs the posgate binary with args plus --addr, and waits
// until it answers on /healthz.
func startChild(ctx context.Context, binary string, env []string, args ...string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, append(args, "--addr", addr)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, URL: "http://" + addr, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			conn.Close()
			return c, nil
		}
		select {
		case err := <-c.done:
			return nil, fmt.Errorf("%s exited before serving: %v", filepath.Base(binary), err)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, errors.New("the child server did not start within 60 s")
		}
	}
}

// stop ends the child with SIGTERM and waits for it.
func (c *child) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// rss is a process's resident set size in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuSeconds is a process's user plus system CPU time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// randomKey is a fresh master key for a child gateway.
func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
