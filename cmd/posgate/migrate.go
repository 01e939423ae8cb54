package main

import (
	"fmt"
	"strings"

	"github.com/posgate/posgate/server"
	"github.com/spf13/cobra"
)

func migrateCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "migrate", Short: "Show or apply the database's schema migrations"}
	var statusDB string
	status := &cobra.Command{
		Use:   "status",
		Short: "List the migrations applied and pending, applying none; exit non-zero when the schema is newer than this binary",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := server.MigrationStatus(c.Context(), statusDB)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "applied  %s\npending  %s\n", versions(m.Applied), versions(m.Pending()))
			if u := m.Unknown(); len(u) > 0 {
				fmt.Fprintf(e.stdout, "unknown  %s\n", versions(u))
			}
			return m.CheckNotNewer()
		},
	}
	dbFlag(status, &statusDB)
	var upDB string
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply the pending migrations (every start applies them too)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := server.MigrateUp(c.Context(), upDB); err != nil {
				return err
			}
			m, err := server.MigrationStatus(c.Context(), upDB)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "applied  %s\n", versions(m.Applied))
			return nil
		},
	}
	dbFlag(up, &upDB)
	c.AddCommand(status, up)
	return c
}

func versions(vs []int) string {
	if len(vs) == 0 {
		return "none"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%04d", v)
	}
	return strings.Join(s, " ")
}
