package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/posgate/posgate"
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

// openPath opens the database at path with an outbox that records what
// each commit hands to the dispatcher (see handed).
func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, recordingOutbox)
	require.NoError(t, err)
	return s
}

// handed is, by store, the notification ids its commits handed to the
// dispatcher, in order.
var handed sync.Map // *sqlite.Store -> *handoffs

type handoffs struct {
	mu  sync.Mutex
	ids []string
}

func recordingOutbox(_ context.Context, s *sqlite.Store) (sqlite.Dispatch, error) {
	h := &handoffs{}
	handed.Store(s, h)
	return func(ns []sqlite.Scheduled) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, n := range ns {
			h.ids = append(h.ids, n.Notification.ID)
		}
	}, nil
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
			v, ok := handed.Load(s.(*sqlite.Store))
			require.True(t, ok)
			h := v.(*handoffs)
			h.mu.Lock()
			defer h.mu.Unlock()
			return slices.Clone(h.ids)
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

	s, err := sqlite.Open(t.Context(), path, recordingOutbox)
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

// TestDue finds the notifications due (not delivered, a next attempt at or
// before now), oldest first, with the attempts before their schedule.
func TestDue(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	defer s.Close()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.InTx(t.Context(), func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant("acme", t0)
		if err != nil {
			return err
		}
		for _, n := range []posgate.Notification{
			{ID: "later", NextAttempt: t0.Add(time.Minute)},
			{ID: "second", NextAttempt: t0},
			{ID: "first", NextAttempt: t0.Add(-time.Second), Attempts: 3},
			{ID: "spent", Attempts: 10},
			{ID: "delivered", DeliveredAt: &t0, Attempts: 1},
		} {
			n.MerchantID, n.User, n.TradeID, n.NotifyURL, n.CreatedAt = m.ID, "U", "T", "https://example.com/n", t0
			if err := tx.InsertNotification(n); err != nil {
				return err
			}
		}
		return tx.ScheduleNotification("first") // a replay: the schedule starts at attempt 3
	}))
	var got []sqlite.Scheduled
	found, err := s.Due(t.Context(), t0, 10, func(sc sqlite.Scheduled) { got = append(got, sc) })
	require.NoError(t, err)
	require.Equal(t, 2, found)
	require.Len(t, got, 2)
	require.Equal(t, "first", got[0].Notification.ID)
	require.Equal(t, 3, got[0].Before)
	require.Equal(t, "second", got[1].Notification.ID)
	require.Equal(t, 0, got[1].Before)

	found, err = s.Due(t.Context(), t0, 1, func(sqlite.Scheduled) {})
	require.NoError(t, err)
	require.Equal(t, 1, found)
}
