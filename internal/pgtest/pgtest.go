// Package pgtest gives each test a PostgreSQL schema of its own on the
// server POSGATE_TEST_POSTGRES names, so tests run in parallel on one
// database and leave nothing behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the database the tests use.
const EnvDSN = "POSGATE_TEST_POSTGRES"

// SchemaDSN creates a new schema named prefix_<random>, drops it when tb
// ends, and returns a DSN whose connections use it (extra is appended as
// further DSN parameters, e.g. "pool_max_conns=8"). Without EnvDSN the
// test skips, except in CI, where that fails.
func SchemaDSN(tb testing.TB, prefix string, extra ...string) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		how := EnvDSN + " is not set; run the PostgreSQL tests with " + EnvDSN + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		if os.Getenv("CI") != "" {
			tb.Fatal(how)
		}
		tb.Skip(how)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := prefix + "_" + hex.EncodeToString(raw)
	exec := func(sql string) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			tb.Fatal(err)
		}
	}
	exec(`CREATE SCHEMA ` + schema)
	tb.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + strings.Join(append([]string{"search_path=" + schema}, extra...), "&")
}
