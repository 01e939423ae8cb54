package main

import "github.com/spf13/cobra"

// signCmd is built by its own issue; until then it says so.
func signCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "sign", Short: "not built yet", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotBuilt }}
}
