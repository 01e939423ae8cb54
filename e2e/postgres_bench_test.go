package e2e

import (
	"path/filepath"
	"testing"

	"github.com/posgate/posgate/internal/pgtest"
)

// postgresDSN is a new schema for one gateway; without
// POSGATE_TEST_POSTGRES it skips, or fails in CI.
func postgresDSN(tb testing.TB) string { return pgtest.SchemaDSN(tb, "e2e") }

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
