package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func notificationsCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "notifications", Short: "List and replay the signed notifications sent to merchants"}

	var listDB string
	var failed bool
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List notifications, newest first",
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := openApp(c.Context(), e, listDB)
			if err != nil {
				return err
			}
			defer app.Close()
			ns, err := app.Service.Notifications(c.Context(), failed, limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTRADE_ID\tUSER\tURL\tATTEMPTS\tDELIVERED\tLAST_ERROR\tNEXT_ATTEMPT")
			for _, n := range ns {
				delivered, next := "-", "-"
				if n.DeliveredAt != nil {
					delivered = n.DeliveredAt.Format(time.RFC3339)
				} else if !n.NextAttempt.IsZero() {
					next = n.NextAttempt.Format(time.RFC3339)
				} else if n.Attempts > 0 {
					next = "gave up"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.ID, n.TradeID, n.User, n.NotifyURL, n.Attempts,
					delivered, cell(n.LastError), next)
			}
			return tw.Flush()
		},
	}
	dbFlag(list, &listDB)
	list.Flags().BoolVar(&failed, "failed", false, "only those not delivered that failed at least once")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")

	var replayDB string
	replay := &cobra.Command{
		Use:   "replay ID",
		Short: "Deliver a notification again (same Webhook-Id); a running gateway sends it within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, replayDB)
			if err != nil {
				return err
			}
			defer app.Close()
			n, err := app.Service.ReplayNotification(c.Context(), cliOperator(e), args[0])
			if err != nil {
				return fmt.Errorf("replay %s: %w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "replay of %s (trade_id %s) scheduled to %s\n", n.ID, n.TradeID, n.NotifyURL)
			return nil
		},
	}
	dbFlag(replay, &replayDB)

	c.AddCommand(list, replay)
	return c
}

// cell keeps a table cell on one line and short.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	if s == "" {
		return "-"
	}
	return s
}
