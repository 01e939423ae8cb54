package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/posgate/posgate/server"
	"github.com/spf13/cobra"
)

func rootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "posgate",
		Short:         "A self-hostable cloud gateway for POS terminals, speaking the YabandPay v3 POS protocol",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Before any command opens a database or a port, so a mistyped value
		// stops the start instead of leaving a gateway logging at a level
		// nobody chose.
		// The variables first: a command line flag wins over its variable.
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			if err := applyEnv(e, c); err != nil {
				return err
			}
			return checkLogFlags(c)
		},
	}
	root.AddCommand(serveCmd(e), demoCmd(e), terminalsCmd(e), cashiersCmd(e), terminalCmd(e), batchesCmd(e),
		notificationsCmd(e), refundsCmd(e), ordersCmd(e), operatorsCmd(e), callCmd(e), signCmd(e), listenCmd(e), benchCmd(e), versionCmd(e), migrateCmd(e))
	return root
}

// dbFlag registers --db, which POSGATE_DB may set.
func dbFlag(c *cobra.Command, p *string) { dbFlagDefault(c, p, server.DefaultDB) }

func dbFlagDefault(c *cobra.Command, p *string, def string) {
	c.Flags().StringVar(p, "db", def, "database: a SQLite file path or a postgres:// URL")
	envFlag(c.Flags(), "db", "POSGATE_DB")
}

// checkLogFlags refuses a --log-level or --log-format that the command has
// and that logger would not understand.
func checkLogFlags(c *cobra.Command) error {
	if f := c.Flags().Lookup("log-level"); f != nil {
		if _, err := parseLogLevel(f.Value.String()); err != nil {
			return err
		}
	}
	if f := c.Flags().Lookup("log-format"); f != nil {
		if v := f.Value.String(); !strings.EqualFold(v, "text") && !strings.EqualFold(v, "json") {
			return fmt.Errorf("--log-format %q (or POSGATE_LOG_FORMAT): want text or json", v)
		}
	}
	return nil
}

func parseLogLevel(level string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return lv, fmt.Errorf("--log-level %q (or POSGATE_LOG_LEVEL): want debug, info, warn or error", level)
	}
	return lv, nil
}

// logger writes structured logs to stderr. Its flags were checked before
// the command ran (checkLogFlags).
func (e *env) logger(format, level string) *slog.Logger {
	lv, _ := parseLogLevel(level)
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}
