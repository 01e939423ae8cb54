package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/postgres"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/sqlite"
	"github.com/stretchr/testify/require"
)

// BenchmarkReversal drives full reversals end to end (API in, terminal
// round trip, store, API out) against one SQLite-backed gateway with 64
// simulated terminals that answer at once, and in the same run measures
// single durable commits (synchronous=FULL) on the same disk. b.N is the
// number of reversals. clients=64 drives all terminals at once
// (throughput); clients=1 drives one terminal at a time (the latency the
// gateway adds when it is not saturated).
//
//	go test ./e2e -run '^$' -bench Reversal -benchtime 3000x
func BenchmarkReversal(b *testing.B) {
	for _, clients := range []int{64, 1} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchReversal(b, "", clients) })
	}
}

// benchReversal drives b.N reversals from clients of 64 connected
// terminals, on a gateway whose database is dsn (empty: a new SQLite
// file). It reports the CPU per reversal of this process and, on
// PostgreSQL, of the server's backends serving the gateway (cpuUse); on
// SQLite the commit figures.
func benchReversal(b *testing.B, dsn string, clients int) {
	const terminals = 64
	g := start(b, func(c *server.Config) {
		c.ReversalWait = 30 * time.Second
		if dsn != "" {
			c.DB = dsn
		}
	})
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

	store, onSQLite := g.G.Store.(*sqlite.Store)
	var commitRate float64
	var commitsBefore uint64
	if onSQLite {
		commitRate = durableCommitRate(b, filepath.Join(b.TempDir(), "commits.db"), 300)
		commitsBefore = store.Commits()
	}

	latencies := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	cpuBefore := cpuNow(g.G.Store)
	pg, onPostgres := g.G.Store.(*postgres.Store)
	var tripsBefore, statementsBefore uint64
	if onPostgres {
		tripsBefore, statementsBefore = pg.RoundTrips()
	}
	b.ResetTimer()
	start := time.Now()
	remaining := b.N
	for i, l := range lanes[:clients] {
		n := min(perLane, remaining)
		remaining -= n
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpuSelf, cpuBackends := cpuNow(g.G.Store).since(cpuBefore)
	all := slices.Concat(latencies...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
	rate := float64(len(all)) / elapsed.Seconds()
	b.ReportMetric(rate, "reversals/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpuSelf.Microseconds())/1000/float64(len(all)), "cpu-ms/reversal")
	if onPostgres {
		trips, statements := pg.RoundTrips()
		b.ReportMetric(float64(cpuBackends.Microseconds())/1000/float64(len(all)), "pg-cpu-ms/reversal")
		b.ReportMetric(float64(trips-tripsBefore)/float64(len(all)), "round-trips/reversal")
		b.ReportMetric(float64(statements-statementsBefore)/float64(len(all)), "statements/reversal")
	}
	if onSQLite {
		b.ReportMetric(commitRate, "commits/s")
		b.ReportMetric(rate/commitRate, "reversals/commit-rate")
		b.ReportMetric(float64(store.Commits()-commitsBefore)/float64(len(all)), "commits/reversal")
	}
}

// seedPaid writes n paid orders of today on tid in one transaction.
func seedPaid(b *testing.B, g *gateway, tid string, n int) []string {
	ids := make([]string, n)
	now := g.Clock.Now().UTC()
	err := g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
		term, err := tx.Terminal(tid)
		if err != nil {
			return err
		}
		loc, _ := term.Location()
		for i := range ids {
			raw := make([]byte, 16)
			rand.Read(raw)
			h := hex.EncodeToString(raw)
			ids[i] = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			err := tx.InsertOrder(posgate.Order{
				TradeID: ids[i], MerchantID: term.MerchantID, TID: tid, User: tid, OrderID: "1", Operation: posgate.OpSale,
				Amount: 1250, Currency: "EUR", Description: "bench", PayMethod: "offline", SubPayMethod: "point_of_sales",
				State: posgate.StatePaid, TransactionID: "BENCH", CreatedAt: now, UpdatedAt: now, PaidAt: &now,
				BusinessDate: posgate.BusinessDate(now, loc), ExpiresAt: now,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(b, err)
	return ids
}

// durableCommitRate is how many single-row durable commits per second the
// store makes, one after another, on the disk that holds path.
func durableCommitRate(b *testing.B, path string, n int) float64 {
	st, err := sqlite.Open(context.Background(), path, nil) // merchants only: no notification
	require.NoError(b, err)
	defer st.Close()
	start := time.Now()
	for i := range n {
		err := st.InTx(context.Background(), func(tx posgate.Tx) error {
			_, err := tx.EnsureMerchant(fmt.Sprint("m", i), time.Now())
			return err
		})
		require.NoError(b, err)
	}
	return float64(n) / time.Since(start).Seconds()
}
