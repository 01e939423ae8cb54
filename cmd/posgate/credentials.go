package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/vault"
	"github.com/spf13/cobra"
)

// openApp opens the gateway's application for an operator command: it
// changes state exactly as the serving gateway would, and the gateway
// serving the same database delivers the notifications it enqueues.
func openApp(ctx context.Context, e *env, db string) (*server.App, error) {
	return server.OpenApp(ctx, server.Config{DB: db, Getenv: e.getenv})
}

// addPrincipal runs add on the database and prints the new secret_key,
// the only time it is shown.
func addPrincipal(ctx context.Context, e *env, db string, add func(posgate.Store, *vault.Sealer) (string, error)) error {
	app, err := openApp(ctx, e, db)
	if err != nil {
		return err
	}
	defer app.Close()
	secret, err := add(app.Store, app.Sealer)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "secret_key=%s\n", secret)
	return nil
}

func terminalsCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "terminals", Short: "Add and list POS terminals"}
	var db string
	var in payment.NewTerminal
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a terminal (and its merchant when the name is new); prints its secret_key once",
		RunE: func(c *cobra.Command, _ []string) error {
			return addPrincipal(c.Context(), e, db, func(st posgate.Store, sealer *vault.Sealer) (string, error) {
				return payment.AddTerminal(c.Context(), st, sealer, in, time.Now())
			})
		},
	}
	dbFlag(add, &db)
	add.Flags().StringVar(&in.Merchant, "merchant", "", "merchant name (created when new)")
	add.Flags().StringVar(&in.TID, "tid", "", "terminal id, the API's user for POS methods")
	add.Flags().StringVar(&in.Secret, "secret", "", "use this secret_key (64+ hex characters) instead of a random one, for tests")
	add.Flags().StringVar(&in.Timezone, "timezone", posgate.DefaultTimezone, "IANA time zone of the terminal's business day")
	add.Flags().StringVar(&in.Currency, "currency", posgate.DefaultCurrency, "ISO 4217 currency of the terminal")
	add.Flags().IntVar(&in.Cutoff, "cutoff", posgate.DefaultCutoff, "daily batch cutoff, minutes after local midnight")
	add.MarkFlagRequired("merchant")
	add.MarkFlagRequired("tid")

	list := listCmd(e, "List terminals (never their secrets)", "TID\tMERCHANT\tTIMEZONE\tCURRENCY\tCUTOFF\tCREATED", func(tx posgate.Tx, w io.Writer) error {
		ts, err := tx.Terminals()
		if err != nil {
			return err
		}
		for _, t := range ts {
			m, err := tx.Merchant(t.MerchantID)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%02d:%02d\t%s\n", t.TID, m.Name, t.Timezone, t.Currency, t.CutoffMinutes/60, t.CutoffMinutes%60, t.CreatedAt.Format(time.RFC3339))
		}
		return nil
	})
	c.AddCommand(add, list)
	return c
}

func cashiersCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "cashiers", Short: "Add and list cashiers (back-office users)"}
	var db string
	var in payment.NewCashier
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a cashier (and its merchant when the name is new); prints its secret_key once",
		RunE: func(c *cobra.Command, _ []string) error {
			return addPrincipal(c.Context(), e, db, func(st posgate.Store, sealer *vault.Sealer) (string, error) {
				return payment.AddCashier(c.Context(), st, sealer, in, time.Now())
			})
		},
	}
	dbFlag(add, &db)
	add.Flags().StringVar(&in.Merchant, "merchant", "", "merchant name (created when new)")
	add.Flags().StringVar(&in.UID, "uid", "", "cashier id, the API's user for back-office methods")
	add.Flags().StringVar((*string)(&in.RefundAuthority), "refund-authority", string(posgate.RefundImmediate), "what the cashier's refunds do: immediate, approval (wait for posgate refunds approve) or disabled")
	add.Flags().StringVar(&in.Secret, "secret", "", "use this secret_key (64+ hex characters) instead of a random one, for tests")
	add.MarkFlagRequired("merchant")
	add.MarkFlagRequired("uid")

	list := listCmd(e, "List cashiers (never their secrets)", "UID\tMERCHANT\tREFUNDS\tCREATED", func(tx posgate.Tx, w io.Writer) error {
		cs, err := tx.Cashiers()
		if err != nil {
			return err
		}
		for _, ca := range cs {
			m, err := tx.Merchant(ca.MerchantID)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ca.UID, m.Name, ca.RefundAuthority, ca.CreatedAt.Format(time.RFC3339))
		}
		return nil
	})
	c.AddCommand(add, list)
	return c
}

// listCmd is a `list` subcommand: a table whose rows come from one
// read-only transaction.
func listCmd(e *env, short, header string, rows func(tx posgate.Tx, w io.Writer) error) *cobra.Command {
	var db string
	c := &cobra.Command{
		Use:   "list",
		Short: short,
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := openApp(c.Context(), e, db)
			if err != nil {
				return err
			}
			defer app.Close()
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, header)
			if err := app.Store.Read(c.Context(), func(tx posgate.Tx) error { return rows(tx, tw) }); err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	dbFlag(c, &db)
	return c
}

func batchesCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "batches", Short: "Close terminal batches (clearing)"}
	var db, tid string
	closeCmd := &cobra.Command{
		Use:   "close",
		Short: "Close the terminal's batch now: its paid orders can then be refunded but not reversed",
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := openApp(c.Context(), e, db)
			if err != nil {
				return err
			}
			defer app.Close()
			n, err := app.Service.CloseBatch(c.Context(), tid)
			if err != nil {
				return fmt.Errorf("close batch of %s: %w", tid, err)
			}
			fmt.Fprintf(e.stdout, "cleared=%d tid=%s\n", n, tid)
			return nil
		},
	}
	dbFlag(closeCmd, &db)
	closeCmd.Flags().StringVar(&tid, "tid", "", "terminal whose batch to close")
	closeCmd.MarkFlagRequired("tid")
	c.AddCommand(closeCmd)
	return c
}
