package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/postgres"
	"github.com/posgate/posgate/storetest"
)

// EnvTestDSN names the database the tests use; each test gets a schema of
// its own in it, dropped afterwards.
const EnvTestDSN = "POSGATE_TEST_POSTGRES"

// schemaDSN creates a new schema and returns a DSN whose connections use
// it. The tests skip without EnvTestDSN, except in CI, where that fails.
func schemaDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(EnvTestDSN)
	if base == "" {
		const how = EnvTestDSN + " is not set; run the PostgreSQL tests with " +
			EnvTestDSN + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./postgres/"
		if os.Getenv("CI") != "" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "test_" + hex.EncodeToString(raw)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	// A small pool: the suite's tests run in parallel with other
	// packages' on one server.
	return base + sep + "search_path=" + schema + "&pool_max_conns=8"
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, riverOutbox)
	require.NoError(t, err)
	return s
}

// riverOutbox is River on the store's pool, enqueueing only.
func riverOutbox(ctx context.Context, s *postgres.Store) (postgres.NotificationQueue, error) {
	q, err := notify.Open(ctx, riverpgxv5.New(s.Pool()), nil)
	if err != nil {
		return nil, err
	}
	return q.Enqueue, nil
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	storetest.RunOutbox(t, storetest.Outbox{
		Open: func(t *testing.T) posgate.Store { return open(t, schemaDSN(t)) },
		OpenWithout: func(t *testing.T) posgate.Store {
			s, err := postgres.Open(t.Context(), schemaDSN(t), nil)
			require.NoError(t, err)
			return s
		},
		Scheduled: func(t *testing.T, s posgate.Store) []string {
			rows, err := s.(*postgres.Store).Pool().Query(t.Context(), `SELECT args->>'id' FROM river_job ORDER BY id`)
			require.NoError(t, err)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			return ids
		},
	})
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) posgate.Store { return open(t, schemaDSN(t)) })
}

func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (posgate.Store, posgate.Store) {
		dsn := schemaDSN(t)
		return open(t, dsn), open(t, dsn)
	})
}

// TestConcurrentOpen starts several stores on one empty schema at once,
// as processes starting together would: the advisory lock lets one
// migrate, and the others find the migrations applied.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn := schemaDSN(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn, riverOutbox) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, stores[n-1].InTx(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.EnsureMerchant("acme", time.Unix(0, 0))
		return err
	}))
	for _, s := range stores {
		s.Close()
	}

	s := open(t, dsn)
	defer s.Close()
	rows, err := s.Pool().Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	files, err := filepath.Glob("migration/*.sql")
	require.NoError(t, err)
	want := make([]int, len(files))
	for i, f := range files {
		want[i], err = strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err)
	}
	require.Equal(t, want, versions, "each applied once; reopening applies nothing")
	var merchants int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM merchants`).Scan(&merchants))
	require.Equal(t, 1, merchants)
}
