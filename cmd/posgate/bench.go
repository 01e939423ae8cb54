package main

import "github.com/spf13/cobra"

// benchCmd is built by its own issue; until then it says so.
func benchCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "not built yet", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotBuilt }}
}
