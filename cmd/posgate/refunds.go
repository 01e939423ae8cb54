package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/posgate/posgate"
	"github.com/spf13/cobra"
)

func refundsCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "refunds", Short: "Approve, reject and list refunds"}

	var approveDB string
	approve := &cobra.Command{
		Use:   "approve REFUND_ID",
		Short: "Approve a refund waiting for approval (to-be-approval): it is sent to the acquirer now",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, approveDB)
			if err != nil {
				return err
			}
			defer app.Close()
			svc := app.Service
			r, err := svc.ApproveRefund(c.Context(), cliOperator(e), args[0])
			return printRefund(e, r, err, args[0])
		},
	}
	dbFlag(approve, &approveDB)

	var rejectDB, reason string
	reject := &cobra.Command{
		Use:   "reject REFUND_ID",
		Short: "Reject a refund waiting for approval: it becomes refund cancel and its amount is refundable again",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, rejectDB)
			if err != nil {
				return err
			}
			defer app.Close()
			svc := app.Service
			r, err := svc.RejectRefund(c.Context(), cliOperator(e), args[0], reason)
			return printRefund(e, r, err, args[0])
		},
	}
	dbFlag(reject, &rejectDB)
	reject.Flags().StringVar(&reason, "reason", "rejected by an operator", "message the refund shows")

	var listDB string
	list := &cobra.Command{
		Use:   "list TRADE_ID",
		Short: "List an order's refunds, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, listDB)
			if err != nil {
				return err
			}
			defer app.Close()
			svc := app.Service
			rs, err := svc.Refunds(c.Context(), args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFUND_ID\tSTATE\tAMOUNT\tCURRENCY\tUSER\tM_REFUND_ID\tCREATED\tMESSAGE")
			for _, r := range rs {
				cur, _ := posgate.LookupCurrency(r.Currency)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RefundID, r.State, posgate.FormatAmount(r.Amount, cur), r.Currency,
					r.User, r.MRefundID, r.CreatedAt.Format(time.RFC3339), r.Message)
			}
			return tw.Flush()
		},
	}
	dbFlag(list, &listDB)
	c.AddCommand(approve, reject, list)
	return c
}

func printRefund(e *env, r posgate.Refund, err error, refundID string) error {
	if errors.Is(err, posgate.ErrNotFound) {
		return fmt.Errorf("no refund %s", refundID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "refund_id=%s state=%q", r.RefundID, r.State)
	if r.Message != "" {
		fmt.Fprintf(e.stdout, " message=%q", r.Message)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
