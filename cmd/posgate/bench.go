package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posgate/posgate/bench"
	"github.com/spf13/cobra"
)

func benchCmd(e *env) *cobra.Command {
	var cfg bench.Config
	var asJSON bool
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load benchmark with its own baseline: cycles per second, latency per method, errors, server memory",
		Long: `Load benchmark. Without --server it starts posgate (posgate serve on a temporary
SQLite database) as a child process, connects --terminals simulated terminals
that answer at once, and drives full cycles from --concurrency merchant clients
for --duration. Then it runs the same client code against a baseline: a bare
net/http handler that verifies the HMAC, makes one durable SQLite commit and one
WebSocket round trip to a bare echo terminal. It prints both and their ratio.

Scenarios: reversal (sale, wait until paid, reversal), sale, query, and idle
(connect --terminals and report memory per terminal and heartbeat CPU cost
after --duration). --wait says how a sale is known to be paid: by polling
v3.QueryOrder, or by its notification. The last line of the report is a
summary row to paste into docs/benchmarks.md. See docs/benchmarks.md.`,
		RunE: func(c *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Binary, cfg.Getenv = bin, e.getenv
			if !asJSON {
				cfg.Progress, cfg.ProgressLive = e.stderr, isTerminal(e.stderr)
			}
			rep, err := bench.Run(c.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(e.stdout, rep)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Server, "server", "", "load this running gateway instead of starting one (needs --db; no baseline); several comma-separated URLs are nodes of one cluster: terminals are spread over them and each client calls the node after its terminal's")
	f.StringVar(&cfg.DB, "db", "", "with --server: the gateway's database, to provision the benchmark's terminals")
	f.IntVar(&cfg.Terminals, "terminals", 64, "simulated terminals")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent merchant clients (one per terminal up to --terminals)")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to drive load (idle: how long to measure)")
	f.StringVar(&cfg.Scenario, "scenario", bench.ScenarioReversal, "reversal, sale, query or idle")
	f.StringVar(&cfg.Wait, "wait", bench.WaitPoll, "how a sale's merchant learns it is paid: poll (v3.QueryOrder) or notification (its signed notification, as a till's back end would)")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", 10*time.Second, "idle scenario: the gateway's heartbeat interval")
	f.StringArrayVar(&cfg.ServeArgs, "serve-arg", nil, "extra flag for the gateway it starts, repeatable (e.g. --serve-arg=--cpuprofile=cpu.prof)")
	f.BoolVar(&asJSON, "json", false, "print every figure as JSON on stdout (the ratio under ratio_vs_baseline)")
	baseline := &cobra.Command{
		Use:    "baseline-server",
		Short:  "the benchmark's baseline server (started by posgate bench)",
		Hidden: true,
		RunE: func(c *cobra.Command, _ []string) error {
			addr, _ := c.Flags().GetString("addr")
			db, _ := c.Flags().GetString("db")
			return bench.BaselineServer(c.Context(), addr, db)
		},
	}
	baseline.Flags().String("addr", "127.0.0.1:0", "listen address")
	baseline.Flags().String("db", "baseline.db", "SQLite file")
	c.AddCommand(baseline)
	return c
}

// isTerminal reports whether w is a terminal, where a progress line can
// be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// summaryRow is one Markdown table row with a run's figures, in the
// columns of docs/benchmarks.md's tables.
func summaryRow(r *bench.Report) string {
	day := time.Now().UTC().Format("2006-01-02")
	if i := r.Idle; i != nil {
		return fmt.Sprintf("| `posgate bench --scenario idle --terminals %d --duration %.0fs --heartbeat %gs`, %s | %.1f KiB RSS per terminal; heartbeats %.3f of one core (%.1f µs each) | %s |",
			r.Terminals, i.MeasuredSeconds, i.HeartbeatSeconds, day, i.RSSPerTerminalBytes/1024, i.CPUShare, i.CPUMicrosPerHeartbeat, r.Machine)
	}
	cmd := fmt.Sprintf("`posgate bench --scenario %s", r.Scenario)
	if r.Wait != "" {
		cmd += " --wait " + r.Wait
	}
	cmd += fmt.Sprintf(" --terminals %d --concurrency %d --duration %.0fs`, %s", r.Terminals, r.Concurrency, r.DurationSeconds, day)
	if r.Baseline == nil {
		return fmt.Sprintf("| %s | %.1f cycles/s | no baseline | | %s |", cmd, r.CyclesPerSecond, r.Machine)
	}
	return fmt.Sprintf("| %s | %.1f cycles/s | %.1f cycles/s | %.2f | %s |", cmd, r.CyclesPerSecond, r.Baseline.CyclesPerSecond, r.RatioVsBaseline, r.Machine)
}

func printReport(w io.Writer, r *bench.Report) {
	defer fmt.Fprintf(w, "summary     %s\n", summaryRow(r))
	fmt.Fprintf(w, "machine     %s\n", r.Machine)
	if r.Idle != nil {
		i := r.Idle
		fmt.Fprintf(w, "idle        %d terminals, heartbeat %gs, measured %.0fs\n", r.Terminals, i.HeartbeatSeconds, i.MeasuredSeconds)
		fmt.Fprintf(w, "memory      %.1f KiB RSS per terminal (%.1f MiB before, %.1f MiB after)\n", i.RSSPerTerminalBytes/1024, float64(i.RSSBeforeBytes)/(1<<20), float64(i.RSSAfterBytes)/(1<<20))
		fmt.Fprintf(w, "            of which Go heap in use %.1f MiB, stacks %.1f MiB, %.0f goroutines\n", i.HeapInuseBytes/(1<<20), i.StackInuseBytes/(1<<20), i.Goroutines)
		fmt.Fprintf(w, "heartbeats  %.0f/s, CPU share %.3f of one core, %.1f µs CPU per heartbeat\n", i.HeartbeatsPerSecond, i.CPUShare, i.CPUMicrosPerHeartbeat)
		return
	}
	wait := ""
	if r.Wait != "" {
		wait = ", sales wait by " + r.Wait
	}
	fmt.Fprintf(w, "scenario    %s, %d terminals, %d clients, %.1fs%s\n", r.Scenario, r.Terminals, r.Concurrency, r.DurationSeconds, wait)
	fmt.Fprintf(w, "posgate     %.1f cycles/s (%d cycles), server RSS %.1f MiB, %d notifications delivered\n", r.CyclesPerSecond, r.Cycles, float64(r.ServerRSSBytes)/(1<<20), r.NotificationsReceived)
	if r.ServerCPUMillisPerCycle > 0 {
		fmt.Fprintf(w, "            server CPU %.2f ms per cycle\n", r.ServerCPUMillisPerCycle)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "baseline    %.1f cycles/s (%d cycles), server RSS %.1f MiB\n", b.CyclesPerSecond, b.Cycles, float64(b.ServerRSSBytes)/(1<<20))
		fmt.Fprintf(w, "            server CPU %.2f ms per cycle\n", b.ServerCPUMillisPerCycle)
		fmt.Fprintf(w, "ratio       %.2f (posgate / baseline)\n", r.RatioVsBaseline)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmethod\tcount\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	row := func(who string, m map[string]bench.Latency) {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			l := m[k]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", who, k, l.Count, l.P50, l.P95, l.P99, l.Max)
		}
	}
	row("posgate", r.LatencyMS)
	if r.Baseline != nil {
		row("baseline", r.Baseline.LatencyMS)
	}
	tw.Flush()
	errs := func(who string, m map[string]int64) {
		if len(m) == 0 {
			fmt.Fprintf(w, "errors      %s: none\n", who)
			return
		}
		var parts []string
		for c, n := range m {
			parts = append(parts, fmt.Sprintf("%s×%d", c, n))
		}
		slices.Sort(parts)
		fmt.Fprintf(w, "errors      %s: %s\n", who, strings.Join(parts, " "))
	}
	errs("posgate", r.ErrorsByCode)
	if r.Baseline != nil {
		errs("baseline", r.Baseline.ErrorsByCode)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note        %s\n", n)
	}
}
