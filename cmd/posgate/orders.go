package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/httpapi"
	"github.com/spf13/cobra"
)

func ordersCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "orders", Short: "List orders and show an order's timeline"}

	var showDB, showOut string
	show := &cobra.Command{
		Use:   "show TRADE_ID",
		Short: "Show an order and everything that happened to it, oldest first (the same as GET /admin/v1/orders/{trade_id})",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if showOut != "text" && showOut != "json" {
				return fmt.Errorf("-o %q: want text or json", showOut)
			}
			app, err := openApp(c.Context(), e, showDB)
			if err != nil {
				return err
			}
			defer app.Close()
			tl, err := app.Service.Timeline(c.Context(), args[0])
			if errors.Is(err, posgate.ErrNotFound) {
				return fmt.Errorf("no order %s", args[0])
			}
			if err != nil {
				return err
			}
			v := httpapi.ViewTimeline(tl)
			if showOut == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			o := v.Order
			fmt.Fprintf(e.stdout, "trade_id=%s order_id=%s tid=%s state=%s amount=%s %s refunded=%s\n",
				o.TradeID, o.OrderID, o.TID, o.State, o.Amount, o.Currency, o.RefundedAmount)
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			for _, step := range v.Timeline {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", step.At.Format("2006-01-02T15:04:05.000000Z07:00"), step.Kind, step.Summary)
			}
			return tw.Flush()
		},
	}
	dbFlag(show, &showDB)
	show.Flags().StringVarP(&showOut, "output", "o", "text", "output format: text or json")

	var listDB, listOut, tid, state, orderID, from, to, limit string
	list := &cobra.Command{
		Use:   "list",
		Short: "List orders, newest first (the same filters as GET /admin/v1/orders)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if listOut != "text" && listOut != "json" {
				return fmt.Errorf("-o %q: want text or json", listOut)
			}
			params := map[string]string{"tid": tid, "state": state, "order_id": orderID, "from": from, "to": to, "limit": limit}
			f, err := httpapi.ParseOrderFilter(func(k string) string { return params[k] })
			if err != nil {
				return fmt.Errorf("orders list: %w", err)
			}
			app, err := openApp(c.Context(), e, listDB)
			if err != nil {
				return err
			}
			defer app.Close()
			os, err := app.Service.Orders(c.Context(), f)
			if err != nil {
				return err
			}
			views := make([]httpapi.OrderView, 0, len(os))
			for _, o := range os {
				views = append(views, httpapi.ViewOrder(o))
			}
			if listOut == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"orders": views})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TRADE_ID\tORDER_ID\tTID\tSTATE\tAMOUNT\tCURRENCY\tCREATED")
			for _, o := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.TradeID, o.OrderID, o.TID, o.State, o.Amount, o.Currency, o.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	dbFlag(list, &listDB)
	fl := list.Flags()
	fl.StringVar(&tid, "tid", "", "only this terminal's orders")
	fl.StringVar(&state, "state", "", "only orders in this state (pending, processing, paid, authorized, declined, failed, expired, cancelled)")
	fl.StringVar(&orderID, "order-id", "", "only orders with this merchant order number")
	fl.StringVar(&from, "from", "", "only orders created at or after this RFC 3339 time")
	fl.StringVar(&to, "to", "", "only orders created before this RFC 3339 time")
	fl.StringVar(&limit, "limit", "", "at most this many orders (default 100, at most 1000)")
	fl.StringVarP(&listOut, "output", "o", "text", "output format: text or json")

	c.AddCommand(show, list)
	return c
}
