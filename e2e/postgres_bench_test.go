package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// envPostgres names the PostgreSQL database of the end-to-end tests and
// benchmarks; each gateway gets a new schema in it.
const envPostgres = "POSGATE_TEST_POSTGRES"

// postgresDSN creates a schema for one gateway and returns a DSN that uses
// it, dropping the schema when tb ends. Without envPostgres it skips, or
// fails in CI.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		const how = envPostgres + " is not set; run with " + envPostgres + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		if os.Getenv("CI") != "" {
			tb.Fatal(how)
		}
		tb.Skip(how)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "e2e_" + hex.EncodeToString(raw)
	ctx := context.Background()
	exec := func(sql string) {
		conn, err := pgx.Connect(ctx, base)
		require.NoError(tb, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		require.NoError(tb, err)
	}
	exec(`CREATE SCHEMA ` + schema)
	tb.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// BenchmarkReversalStores is BenchmarkReversal's throughput case (64
// terminals driven at once) on each store in the same run, so the two
// figures share the machine's load. b.N is the number of reversals.
//
//	POSGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./e2e -run '^$' -bench ReversalStores -benchtime 3000x
func BenchmarkReversalStores(b *testing.B) {
	stores := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return filepath.Join(b.TempDir(), "posgate.db") }},
		{"postgres", func(b *testing.B) string { return postgresDSN(b) }},
	}
	for _, st := range stores {
		b.Run("store="+st.name+"/clients=64", func(b *testing.B) { benchReversal(b, st.dsn(b), 64) })
	}
}
