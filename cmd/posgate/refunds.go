package main

import "github.com/spf13/cobra"

// refundsCmd is built by its own issue; until then it says so.
func refundsCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "refunds", Short: "not built yet", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotBuilt }}
}
