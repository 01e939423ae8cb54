// Package buildinfo tells which build of posgate is running: the release
// version and commit stamped by the release build, else what the Go
// toolchain recorded in the binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the release build with -ldflags "-X ...": a build from a release
// tag's source tree cannot know the tag otherwise, and builds made with
// -buildvcs=false (CI, containers) record no commit.
var (
	version  string
	revision string
)

// Module is one module compiled into the binary.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	// Replace is where the module was taken from instead, when replaced
	// (the nested modules in a build from the source tree).
	Replace string `json:"replace,omitempty"`
}

// Info describes the running binary.
type Info struct {
	Version   string   `json:"version"`
	Revision  string   `json:"revision"`
	GoVersion string   `json:"go_version"`
	Modules   []Module `json:"modules"`
}

// Read returns the running binary's build information. Unknown values are
// "unknown" rather than empty, so a metric label or a bug report never
// silently lacks them.
func Read() Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		// go install module@vX.Y.Z records the version; a build inside the
		// tree records "(devel)", which says nothing.
		if info.Version == "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Revision == "" {
				info.Revision = s.Value
			}
		}
		for _, d := range bi.Deps {
			m := Module{Path: d.Path, Version: d.Version}
			if d.Replace != nil {
				m.Replace = d.Replace.Path
				// A directory replacement reports "(devel)": no version.
				if d.Replace.Version != "" && d.Replace.Version != "(devel)" {
					m.Replace += "@" + d.Replace.Version
				}
			}
			info.Modules = append(info.Modules, m)
		}
	}
	if info.Version == "" {
		info.Version = "unknown"
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}
