package main

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

func rootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "posgate",
		Short:         "A self-hostable cloud gateway for POS terminals, speaking the YabandPay v3 POS protocol",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(e), demoCmd(e), terminalsCmd(e), cashiersCmd(e), terminalCmd(e), batchesCmd(e),
		notificationsCmd(e), refundsCmd(e), callCmd(e), signCmd(e), benchCmd(e), versionCmd(e))
	return root
}

// envOr is the environment variable's value, or def.
func (e *env) envOr(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// dbFlag registers --db with POSGATE_DB as its default.
func dbFlag(e *env, c *cobra.Command, p *string) { dbFlagDefault(e, c, p, "posgate.db") }

func dbFlagDefault(e *env, c *cobra.Command, p *string, def string) {
	c.Flags().StringVar(p, "db", e.envOr("POSGATE_DB", def), "database: a SQLite file path or a postgres:// URL (env POSGATE_DB)")
}

// logger writes structured logs to stderr.
func (e *env) logger(format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

var errNotBuilt = errors.New("this command is not built yet")
