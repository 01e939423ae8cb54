package main

import "github.com/spf13/cobra"

// callCmd is built by its own issue; until then it says so.
func callCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "call", Short: "not built yet", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotBuilt }}
}
