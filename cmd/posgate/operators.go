package main

import (
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func operatorsCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "operators", Short: "Add, list and remove the operators of the console and the operator API"}

	var addDB string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an operator and print their secret, shown only now (only its hash is stored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, addDB)
			if err != nil {
				return err
			}
			defer app.Close()
			secret, err := app.Service.AddOperator(c.Context(), args[0])
			if err != nil {
				return fmt.Errorf("add operator %s: %w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "operator=%s\nsecret=%s\n(shown only now. The console takes the name and the secret; the operator API takes Authorization: Bearer %s:SECRET)\n",
				args[0], secret, args[0])
			return nil
		},
	}
	dbFlag(add, &addDB)

	var listDB string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the operators (the admin token acts as the operator admin, which is not listed)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := openApp(c.Context(), e, listDB)
			if err != nil {
				return err
			}
			defer app.Close()
			ops, err := app.Service.Operators(c.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED")
			for _, o := range ops {
				fmt.Fprintf(tw, "%s\t%s\n", o.Name, o.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	dbFlag(list, &listDB)

	var removeDB string
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an operator: their secret and console sessions stop working at once; their actions stay in the timelines",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			app, err := openApp(c.Context(), e, removeDB)
			if err != nil {
				return err
			}
			defer app.Close()
			if err := app.Service.RemoveOperator(c.Context(), args[0]); err != nil {
				return fmt.Errorf("remove operator %s: %w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "removed operator %s\n", args[0])
			return nil
		},
	}
	dbFlag(remove, &removeDB)
	c.AddCommand(add, list, remove)
	return c
}

// cliOperator is who an operator command acts as in the audit: the
// system user running it, who had the database in hand.
func cliOperator(e *env) string {
	name := e.getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}
