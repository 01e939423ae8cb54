package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/posgate/posgate/buildinfo"
	"github.com/spf13/cobra"
)

func versionCmd(e *env) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and module versions of this binary",
		Long: `Print what this binary was built from: the release version and commit
stamped by the release build (or recorded by the Go toolchain), the Go
version, and every module compiled in, as runtime/debug.ReadBuildInfo
reports them. A value the build did not record is "unknown".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			switch output {
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "text":
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "version\t%s\nrevision\t%s\ngo\t%s\n", info.Version, info.Revision, info.GoVersion)
				for _, m := range info.Modules {
					if m.Replace != "" {
						fmt.Fprintf(w, "module\t%s %s => %s\n", m.Path, m.Version, m.Replace)
					} else {
						fmt.Fprintf(w, "module\t%s %s\n", m.Path, m.Version)
					}
				}
				return w.Flush()
			}
			return fmt.Errorf("-o %q: want text or json", output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
