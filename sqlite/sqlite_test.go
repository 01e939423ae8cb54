package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/sqlite"
	"github.com/posgate/posgate/storetest"
)

// open opens a new database file: tests sharing one would contend for its
// lock.
func open(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "posgate.db")
	return openPath(t, path), path
}

// openPath opens the database at path with River as its notification
// outbox, enqueueing only.
func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, riverOutbox)
	require.NoError(t, err)
	return s
}

func riverOutbox(ctx context.Context, s *sqlite.Store) (sqlite.NotificationQueue, error) {
	q, err := notify.Open(ctx, riversqlite.New(s.DB()), nil)
	if err != nil {
		return nil, err
	}
	return q.Enqueue, nil
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) posgate.Store {
		s, _ := open(t)
		return s
	})
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	storetest.RunOutbox(t, storetest.Outbox{
		Open: func(t *testing.T) posgate.Store {
			s, _ := open(t)
			return s
		},
		OpenWithout: func(t *testing.T) posgate.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "posgate.db"), nil)
			require.NoError(t, err)
			return s
		},
		Scheduled: func(t *testing.T, s posgate.Store) []string {
			rows, err := s.(*sqlite.Store).DB().QueryContext(t.Context(), `SELECT json_extract(args, '$.id') FROM river_job ORDER BY id`)
			require.NoError(t, err)
			defer rows.Close()
			var ids []string
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			require.NoError(t, rows.Err())
			return ids
		},
	})
}

// TestShared opens the same file twice, as two processes would.
func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (posgate.Store, posgate.Store) {
		a, path := open(t)
		return a, openPath(t, path)
	})
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"temp_store":   "2", // MEMORY
	} {
		var got string
		require.NoError(t, s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got))
		require.Equal(t, want, got, pragma)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	s, path := open(t)
	require.NoError(t, s.InTx(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.EnsureMerchant("acme", time.Unix(0, 0))
		return err
	}))
	require.NoError(t, s.Close())

	s, err := sqlite.Open(t.Context(), path, riverOutbox)
	require.NoError(t, err, "migrations already applied are skipped")
	defer s.Close()
	var versions []int
	rows, err := s.DB().QueryContext(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.NoError(t, rows.Err())
	files, err := filepath.Glob("migration/*.sql")
	require.NoError(t, err)
	// Numbers may skip: branches reserve theirs.
	want := make([]int, len(files))
	for i, f := range files {
		want[i], err = strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err, f)
	}
	require.Equal(t, want, versions, "each embedded migration applied once, in order")
	var n int
	require.NoError(t, s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM merchants").Scan(&n))
	require.Equal(t, 1, n)
}

// TestLockedElsewhere holds the write lock from another connection, as a
// second process would: InTx gives up after its bounded retries with the
// lock error, and succeeds once the lock is gone.
func TestLockedElsewhere(t *testing.T) {
	t.Parallel()
	s, path := open(t)
	defer s.Close()
	// The store's single connection, so this sticks; waiting out the
	// default timeout on every retry would only slow the test.
	_, err := s.DB().ExecContext(t.Context(), "PRAGMA busy_timeout = 0")
	require.NoError(t, err)

	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	calls := 0
	fn := func(posgate.Tx) error { calls++; return nil }
	err = s.InTx(t.Context(), fn)
	var se *msqlite.Error
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, sqlite3.SQLITE_BUSY, se.Code()&0xff)
	require.Zero(t, calls)

	_, err = conn.ExecContext(t.Context(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, s.InTx(t.Context(), fn))
	require.Equal(t, 1, calls)
}
