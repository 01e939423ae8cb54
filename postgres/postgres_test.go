package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/internal/pgtest"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/postgres"
	"github.com/posgate/posgate/storetest"
)

// schemaDSN is a new schema of the test's own. A small pool: the suite's
// tests run in parallel with other packages' on one server.
func schemaDSN(t *testing.T) string { return pgtest.SchemaDSN(t, "test", "pool_max_conns=8") }

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
	require.Equal(t, migrationVersions(t), versions, "each applied once; reopening applies nothing")
	var merchants int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM merchants`).Scan(&merchants))
	require.Equal(t, 1, merchants)
}

// TestDeadConnectionsRetried terminates every connection of the store's
// pool, as a server restart or an operator would: the transactions that
// follow run again on new connections instead of failing.
func TestDeadConnectionsRetried(t *testing.T) {
	t.Parallel()
	name := "posgate_dead_" + strings.ReplaceAll(t.Name(), "/", "_")
	dsn := schemaDSN(t) + "&application_name=" + name
	s, err := postgres.Open(t.Context(), dsn, nil)
	require.NoError(t, err)
	defer s.Close()
	ensure := func(i int) error {
		return s.InTx(t.Context(), func(tx posgate.Tx) error {
			_, err := tx.EnsureMerchant(fmt.Sprint("m", i), time.Now())
			return err
		})
	}
	// Fill the pool with open connections.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { require.NoError(t, ensure(i)) })
	}
	wg.Wait()

	admin, err := pgx.Connect(t.Context(), os.Getenv(pgtest.EnvDSN))
	require.NoError(t, err)
	defer admin.Close(t.Context())
	var killed int
	require.NoError(t, admin.QueryRow(t.Context(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&killed))
	require.Positive(t, killed)

	for i := range 8 {
		require.NoError(t, ensure(100+i), "a write after the connections died")
	}
	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.Terminals()
		return err
	}), "a read after the connections died")
}

// migrationVersions are the numbers of the migration files, in order.
func migrationVersions(t *testing.T) []int {
	entries, err := os.ReadDir("migration")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		require.NoError(t, err, e.Name())
		out = append(out, n)
	}
	return out
}
