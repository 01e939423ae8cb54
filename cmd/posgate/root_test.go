package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnknownLogLevelRefusedAtStart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--log-level", "verbose"}, `--log-level "verbose"`},
		{[]string{"POSGATE_LOG_LEVEL=verbose"}, []string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, `--log-level "verbose" (or POSGATE_LOG_LEVEL)`},
		{nil, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--log-format", "yaml"}, `--log-format "yaml"`},
		{nil, []string{"demo", "--db", db, "--addr", "127.0.0.1:0", "--log-level", "loud"}, `--log-level "loud"`},
		{nil, []string{"terminal", "--headless", "--tid", "T1", "--log-level", "verbose"}, `--log-level "verbose"`},
	} {
		_, stderr, err := runBin(t, tc.env, tc.args...)
		require.Error(t, err, tc.args)
		require.Contains(t, stderr, tc.want)
		require.Contains(t, stderr, "want ")
	}
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "refused before the database is opened")
}
