package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestNestedModules vets and tests the protocol, sdk and termproto
// modules. They are modules of their own, so merchants and terminal vendors
// import them without the server's dependencies, and a `./...` pattern never crosses into a nested module
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
	for _, dir := range []string{"../protocol", "../sdk", "../termproto"} {
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

// TestConsumerModules builds a module outside the tree against the SDK
// and against the terminal protocol, as a merchant's till or a terminal
// vendor would (with replace lines for posgate's own modules only), and
// checks that nothing of the server comes with them.
func TestConsumerModules(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, pkg, use string }{
		{"sdk", "github.com/posgate/posgate/sdk", `_ = sdk.NewRequestID()`},
		{"termproto", "github.com/posgate/posgate/termproto", `_, _ = termproto.Decode([]byte("{}"))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			mod := "module example.com/consumer\n\ngo 1.26.0\n\n"
			for _, m := range []string{"protocol", tc.name} {
				mod += fmt.Sprintf("require github.com/posgate/posgate/%s v0.0.0-00010101000000-000000000000\n", m)
				mod += fmt.Sprintf("replace github.com/posgate/posgate/%s => %s\n", m, filepath.Join(root, m))
			}
			src := fmt.Sprintf("package main\n\nimport %q\n\nfunc main() { %s }\n", tc.pkg, tc.use)
			for name, body := range map[string]string{"go.mod": mod, "main.go": src} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			goCmd := func(args ...string) string {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("go %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			goCmd("build", "./...")
			for _, dep := range strings.Fields(goCmd("list", "-deps", "./...")) {
				first, _, _ := strings.Cut(dep, "/")
				if !strings.Contains(first, ".") || dep == "example.com/consumer" {
					continue // the standard library, and the consumer itself
				}
				if dep != "github.com/posgate/posgate/protocol" && dep != tc.pkg {
					t.Errorf("%s brings in %s", tc.pkg, dep)
				}
			}
		})
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

// TestLayers keeps the application layer in the domain's terms: payment
// imports no wire format and no transport; they translate at their edge.
func TestLayers(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/posgate/posgate/payment").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/posgate/posgate/protocol", "github.com/posgate/posgate/termproto",
			"github.com/posgate/posgate/httpapi", "github.com/posgate/posgate/termlink", "github.com/posgate/posgate/notify":
			t.Errorf("payment depends on %s", dep)
		}
	}
}
