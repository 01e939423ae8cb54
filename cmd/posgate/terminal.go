package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/simterm/control"
	"github.com/posgate/posgate/simterm/tui"
	"github.com/spf13/cobra"
)

func terminalCmd(e *env) *cobra.Command {
	var cfg simterm.Config
	var headless bool
	var logLevel, logFile, controlAddr string
	var controlRemote bool
	var ui tui.Options
	c := &cobra.Command{
		Use:   "terminal",
		Short: "Run a simulated POS terminal connected to a gateway (full-screen, or --headless)",
		Long: `Run a simulated POS terminal. It connects to the gateway, shows sales and
reversals the way a real terminal does, and answers them through a built-in
acquirer simulator whose magic amounts force each outcome (docs/simulator.md).

The terminal's secret_key comes from --secret or, when that is not given,
from the environment variable POSGATE_SECRET, which other users cannot see
in ps.

With --headless, --control-addr opens a local HTTP API that scripts the
terminal: what the customer does with the next commands (present a card,
a declined card, cancel, no card, a timeout, an acquirer error), keys now,
a dropped link, faults (docs/simulator.md, Control API).`,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfg.Secret == "" {
				return errors.New("--secret (or POSGATE_SECRET) is required")
			}
			if controlAddr != "" && !headless {
				return errors.New("--control-addr needs --headless")
			}
			if headless {
				cfg.Logger = e.logger("text", logLevel)
				cfg.AutoTap = true
				return runHeadless(c.Context(), e, cfg, controlAddr, controlRemote)
			}
			// Logs on stderr would draw over the full-screen display.
			if logFile != "" {
				f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.Logger = slog.New(slog.NewTextHandler(f, nil))
			}
			return tui.Run(c.Context(), cfg, ui)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Server, "server", "http://127.0.0.1:8080", "gateway base URL (http:// or https://); several gateways of a cluster comma-separated: after the link ends the terminal tries the next, with backoff")
	f.StringVar(&cfg.TID, "tid", "", "terminal id")
	f.StringVar(&cfg.Secret, "secret", "", "the terminal's secret_key (hex); prefer the variable, which other users cannot see in ps")
	envFlag(f, "server", "POSGATE_SERVER")
	envFlag(f, "secret", "POSGATE_SECRET")
	f.StringVar(&cfg.JournalPath, "journal", "", "journal file: commands and results survive a crash; none runs twice, each result is reported after restart")
	f.BoolVar(&headless, "headless", false, "no UI: print one line per screen change and tap cards automatically")
	f.DurationVar(&cfg.CardDelay, "card-delay", 300*time.Millisecond, "with --headless, how long the customer takes to tap the card")
	f.BoolVar(&cfg.Faults.DropAfterReceive, "drop-after-receive", false, "fault: drop the link right after the next command arrives (the cloud sends it again)")
	f.BoolVar(&cfg.Faults.CrashBeforeResult, "crash-before-result", false, "fault: execute the next command, journal it, then crash before reporting (restart with the same --journal)")
	f.BoolVar(&cfg.Faults.CrashBeforeAnswer, "crash-before-answer", false, "fault: send the next command to the acquirer, then crash before its answer (restart with the same --journal: outcome interrupted)")
	f.DurationVar(&cfg.Faults.ResultDelay, "result-delay", 0, "fault: hold every result back this long (try it beyond --reversal-wait for -4203)")
	f.StringVar(&logLevel, "log-level", "warn", "with --headless, the log level on stderr")
	f.StringVar(&logFile, "log-file", "", "without --headless, write logs to this file (they are discarded otherwise)")
	f.DurationVar(&ui.ResultHold, "result-hold", 5*time.Second, "without --headless, how long a result screen stays before the display goes back to idle (0: until the next command)")
	f.StringVar(&controlAddr, "control-addr", "", "with --headless, serve the control API here (loopback only, e.g. 127.0.0.1:8091)")
	f.BoolVar(&controlRemote, "control-allow-remote", false, "let --control-addr be an address other hosts reach: they can then drive the terminal")
	c.MarkFlagRequired("tid")
	return c
}

// runHeadless runs the headless terminal, and its control API when asked.
func runHeadless(ctx context.Context, e *env, cfg simterm.Config, controlAddr string, allowRemote bool) error {
	t, err := simterm.New(cfg)
	if err != nil {
		return err
	}
	if controlAddr != "" {
		ln, err := control.Listen(controlAddr, allowRemote)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: control.Handler(cfg.TID, t), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintf(e.stderr, "posgate terminal: control API http://%s/v1/state\n", ln.Addr())
	}
	return t.RunPrinting(ctx, e.stdout)
}
