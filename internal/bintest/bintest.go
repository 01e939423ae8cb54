// Package bintest builds the posgate binary once for a test package that
// runs it as a process of its own: for kill -9, signals and the command
// line, which an in-process gateway cannot show.
package bintest

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is a test package's TestMain: it builds cmd/posgate into a
// temporary directory, sets *bin to its path, runs the tests and removes
// the directory.
func Main(m *testing.M, bin *string) {
	// The package's own flags are read by its tests, after this.
	flag.Parse()
	dir, err := os.MkdirTemp("", "posgate-bin")
	if err != nil {
		panic(err)
	}
	*bin = filepath.Join(dir, "posgate")
	build := exec.Command("go", "build", "-o", *bin, "github.com/posgate/posgate/cmd/posgate")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
