//go:build unix

package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/sqlite"
)

// TestFilesPrivate runs with umask 0, which would leave files SQLite
// creates world-readable: the database, its WAL and its shared-memory file
// are 0600 all the same. Not parallel: the umask is the process's.
func TestFilesPrivate(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	s, path := open(t)
	defer s.Close()
	require.NoError(t, s.InTx(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.EnsureMerchant("acme", time.Unix(0, 0))
		return err
	}))
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}

func TestExistingFileKeepsItsMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "posgate.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Chmod(path, 0o640), "an operator's choice")
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	defer s.Close()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}
