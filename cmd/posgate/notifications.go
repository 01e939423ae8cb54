package main

import "github.com/spf13/cobra"

// notificationsCmd is built by its own issue; until then it says so.
func notificationsCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "notifications", Short: "not built yet", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotBuilt }}
}
