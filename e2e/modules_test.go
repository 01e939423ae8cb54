package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestNestedModules vets and tests the protocol and sdk modules. They are
// modules of their own, so merchants import them without the server's
// dependencies, and a `./...` pattern never crosses into a nested module
// (not even with a go.work): without this test the README's `go test ./...`
// and CI's `go test -race ./...` would silently skip them.
func TestNestedModules(t *testing.T) {
	t.Parallel()
	test := []string{"test", "-count=1"}
	if raceEnabled() {
		test = append(test, "-race")
	}
	if testing.Short() {
		test = append(test, "-short")
	}
	for _, dir := range []string{"../protocol", "../sdk"} {
		readTree(t, dir)
		for _, args := range [][]string{{"vet", "./..."}, append(test, "./...")} {
			cmd := exec.Command("go", args...) // go test puts GOROOT/bin first in PATH
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: go %v: %v\n%s", dir, args, err, out)
			}
			t.Logf("%s: go %v\n%s", dir, args, out)
		}
	}
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// readTree opens every file under dir, so that go test's result cache,
// which tracks the files a test opens, reruns this test when one changes.
func readTree(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
