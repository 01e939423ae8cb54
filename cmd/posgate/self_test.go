package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelfCommand(t *testing.T) {
	dir := t.TempDir()
	installed := filepath.Join(dir, "bin", "posgate")
	other := filepath.Join(dir, "clone", "posgate")
	goRun := filepath.Join(dir, "go-build1234", "b001", "exe", "posgate")
	for _, p := range []string{installed, other, goRun} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(p), 0o755))
	}
	onPath := func(string) (string, error) { return installed, nil }
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }

	require.Equal(t, "posgate", selfCommand(onPath, installed, "posgate"), "the posgate on the PATH is this binary")
	require.Equal(t, "go run ./cmd/posgate", selfCommand(notOnPath, goRun, goRun), "go run")
	require.Equal(t, "go run ./cmd/posgate", selfCommand(onPath, goRun, goRun), "go run while another posgate is installed")
	require.Equal(t, "./posgate", selfCommand(onPath, other, "./posgate"), "another posgate on the PATH is not this one")
	require.Equal(t, "./posgate", selfCommand(notOnPath, other, "./posgate"))
	require.Equal(t, other, selfCommand(notOnPath, other, "posgate"), "started by a name the PATH does not resolve to it")
}
