package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
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
		b.Run("store="+st.name+"/clients=64", func(b *testing.B) { benchReversalOn(b, st.dsn(b), 64) })
	}
}

// benchReversalOn drives b.N reversals through clients of 64 connected
// terminals on a gateway whose database is dsn.
func benchReversalOn(b *testing.B, dsn string, clients int) {
	const terminals = 64
	g := start(b, func(c *server.Config) { c.DB, c.ReversalWait = dsn, 30*time.Second })
	type lane struct {
		tid    string
		secret string
		orders []string
	}
	lanes := make([]*lane, terminals)
	perLane := (b.N + clients - 1) / clients
	for i := range lanes {
		l := &lane{tid: fmt.Sprintf("TB%02d", i)}
		l.secret = g.addTerminal("Bench Shop", l.tid, "")
		g.connect(l.tid, l.secret, func(c *simterm.Config) { c.CardDelay = time.Nanosecond })
		if i < clients {
			l.orders = seedPaid(b, g, l.tid, perLane)
		}
		lanes[i] = l
	}

	latencies := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	remaining := b.N
	for i, l := range lanes[:clients] {
		n := min(perLane, remaining)
		remaining -= n
		wg.Go(func() {
			c := g.client(l.tid, l.secret)
			for _, tradeID := range l.orders[:n] {
				t0 := time.Now()
				r, err := c.Call(context.Background(), "v3.POSReversal", map[string]string{"tid": l.tid, "trade_id": tradeID, "request_id": "r" + tradeID})
				if err != nil || r.Code != protocol.CodeOK {
					b.Errorf("reversal: %v %+v", err, r)
					return
				}
				latencies[i] = append(latencies[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "reversals/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
