package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// selfCommand is how the user can run this very binary again, for the
// commands the demo prints: "posgate" when that name on the PATH is this
// binary; "go run ./cmd/posgate" when this is a go run build (its binary
// lives in a go-build directory that is deleted on exit); else the path it
// was started by, which works from the same directory.
func selfCommand(lookPath func(string) (string, error), executable, arg0 string) string {
	if p, err := lookPath("posgate"); err == nil && sameFile(p, executable) {
		return "posgate"
	}
	if strings.Contains(filepath.ToSlash(executable), "/go-build") {
		return "go run ./cmd/posgate"
	}
	if strings.ContainsRune(arg0, filepath.Separator) {
		return arg0
	}
	return executable
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// runningSelf is selfCommand for this process.
func runningSelf() string {
	exe, err := os.Executable()
	if err != nil {
		return "go run ./cmd/posgate"
	}
	return selfCommand(exec.LookPath, exe, os.Args[0])
}
