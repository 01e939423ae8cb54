package clustertest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/simterm"
)

// BenchmarkReversalRoutedVsLocal measures, in the same run, a reversal
// called on the node holding the terminal and one called on another node
// (routed over NATS). Each iteration makes one of each, each of a sale
// made just before; the metrics are the reversals' latency percentiles.
func BenchmarkReversalRoutedVsLocal(b *testing.B) {
	c := newCluster(b, 2)
	c.provision("T0")
	c.connect("T0", 0, cardDelay(time.Millisecond))
	var local, routed []time.Duration
	reverse := func(i int) time.Duration {
		sale := c.paidSale(i, "T0")
		start := time.Now()
		c.reverse(i, "T0", sale)
		return time.Since(start)
	}
	for b.Loop() {
		local = append(local, reverse(0))
		routed = append(routed, reverse(1))
	}
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		b.ReportMetric(ms(percentile(ds, 0.50)), name+"-p50-ms")
		b.ReportMetric(ms(percentile(ds, 0.99)), name+"-p99-ms")
	}
	report("local", local)
	report("routed", routed)
	if d := c.acq.doubled(); len(d) > 0 {
		b.Fatalf("doubled: %v", d)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// TestKillStorm (-clustertest.storm=N) connects N terminals to one node of
// three, starts a reversal on 30 of them from another node, kills -9 the
// node while those are on the terminals' screens, and measures how long
// until 99% and all of the terminals are online again on the survivors,
// and the reconnects a second they absorbed. Every reversal must be
// applied once.
func TestKillStorm(t *testing.T) {
	n := *stormFlag
	if n <= 0 {
		t.Skip("a measurement: run with -clustertest.storm=3000 (docs/benchmarks.md)")
	}
	const busy = 30
	c := newCluster(t, 3, func(o *options) {
		o.termHeartbeat = 10 * time.Second
		o.poolConns = 10
		o.acceptLimit = !*stormLiftFlag
	})
	tids := make([]string, n)
	for i := range tids {
		tids[i] = fmt.Sprintf("S%05d", i)
	}
	provisionStart := time.Now()
	c.provisionParallel(tids, 8)
	t.Logf("%d terminals provisioned in %s", n, time.Since(provisionStart).Round(time.Millisecond))

	// All on n0; half fail over to n1 first, half to n2.
	quiet := func(cfg *simterm.Config) { cfg.CardDelay = time.Millisecond }
	slow := cardDelay(2 * time.Second)
	terms := make([]*term, n)
	connectStart := time.Now()
	sem := make(chan struct{}, 64)
	// Below the nodes' default accept limit (300 a second), so that none
	// is refused and moved on to n1 or n2 before the kill.
	pace := time.NewTicker(time.Second / 250)
	defer pace.Stop()
	var wg sync.WaitGroup
	for i, tid := range tids {
		<-pace.C
		order := []int{0, 1, 2}
		if i%2 == 1 {
			order = []int{0, 2, 1}
		}
		opt := quiet
		if i < busy {
			opt = slow
		}
		sem <- struct{}{}
		terms[i] = c.start(tid, c.servers(order...), opt)
		wg.Go(func() {
			defer func() { <-sem }()
			poll(60*time.Second, func() bool { return terms[i].Current().Online })
		})
	}
	wg.Wait()
	if !poll(60*time.Second, func() bool { return c.heldBy("n0") == n }) {
		t.Fatalf("%d of %d terminals on n0", c.heldBy("n0"), n)
	}
	t.Logf("%d terminals online on n0 in %s (%d open files here)", n, time.Since(connectStart).Round(time.Millisecond), openFiles())

	// Reversals in flight on the busy terminals, called on n1.
	sales := make([]string, busy)
	for i := range busy {
		sales[i] = c.paidSale(1, tids[i])
	}
	type answer struct {
		code protocol.Code
		err  error
	}
	answers := make(chan answer, busy)
	for i := range busy {
		go func() {
			r, err := c.till(1, tids[i]).Call(context.Background(), "v3.POSReversal",
				map[string]string{"tid": tids[i], "trade_id": sales[i], "request_id": sdk.NewRequestID()})
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{code: r.Code}
		}()
	}
	for i := range busy {
		if !poll(30*time.Second, func() bool { return terms[i].Current().Name == simterm.ScreenReversalRequested }) {
			var got []answer
			for len(answers) > 0 {
				got = append(got, <-answers)
			}
			t.Fatalf("%s shows %s; answers so far: %v", tids[i], terms[i].Current().Name, got)
		}
	}

	c.nodes[0].kill()
	killed := time.Now()
	var t99, tAll time.Duration
	online := func() int { return c.heldBy("n1") + c.heldBy("n2") }
	if !poll(5*time.Minute, func() bool {
		k := online()
		if t99 == 0 && k*100 >= n*99 {
			t99 = time.Since(killed)
		}
		return k == n
	}) {
		t.Errorf("only %d of %d terminals online again after 5 minutes", online(), n)
	}
	tAll = time.Since(killed)
	t.Logf("kill -9 of n0 with %d terminals (accept limit %v): 99%% online again after %.2fs, all after %.2fs: %.0f reconnects/s absorbed by n1 (%d) and n2 (%d)",
		n, c.opts.acceptLimit, t99.Seconds(), tAll.Seconds(), float64(n)/tAll.Seconds(), c.heldBy("n1"), c.heldBy("n2"))

	codes := map[string]int{}
	for range busy {
		select {
		case a := <-answers:
			if a.err != nil {
				codes["error: "+a.err.Error()]++
			} else {
				codes[string(a.code)]++
			}
		case <-time.After(60 * time.Second):
			t.Fatal("a reversal never answered")
		}
	}
	lost := 0
	for i, sale := range sales {
		if !poll(30*time.Second, func() bool { return c.state(1, tids[i], sale) == "cancelled" }) || c.acq.ops(sale, "reversal") != 1 {
			lost++
			t.Errorf("reversal of %s: order %s, reversed %d times", sale, c.state(1, tids[i], sale), c.acq.ops(sale, "reversal"))
		}
	}
	doubled := c.acq.doubled()
	t.Logf("%d reversals in flight at the kill: answers %v; lost %d, doubled %d", busy, codes, lost, len(doubled))
	if len(doubled) > 0 {
		t.Errorf("doubled: %v", doubled)
	}
}

// heldBy counts the presence rows naming node.
func (c *cluster) heldBy(node string) int {
	return c.count(`SELECT count(*) FROM terminal_presence WHERE node_id = $1`, node)
}

// TestCyclesPerNodeCount (-clustertest.cycles=D) runs `posgate bench
// --server URL1,...` (the reversal cycle: v3.POS, v3.QueryOrder until paid,
// v3.POSReversal) for D against clusters of 1, 2 and 3 nodes, 24 terminals
// and 24 clients; with several nodes every command is routed.
func TestCyclesPerNodeCount(t *testing.T) {
	d := *cyclesFlag
	if d <= 0 {
		t.Skip("a measurement: run with -clustertest.cycles=20s (docs/benchmarks.md)")
	}
	for nodes := 1; nodes <= 3; nodes++ {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			c := newCluster(t, nodes)
			rep := c.bench(t, 24, d)
			t.Logf("%d node(s), 24 terminals, 24 clients: %.1f cycles/s over %s, reversal p50 %.1f ms p99 %.1f ms, errors %v",
				nodes, rep.CyclesPerSecond, d, rep.LatencyMS["v3.POSReversal"].P50, rep.LatencyMS["v3.POSReversal"].P99, rep.ErrorsByCode)
		})
	}
}

// openFiles counts this process's file descriptors: the storm needs three
// per terminal here (the terminal's and the balancer's two).
func openFiles() int {
	fds, _ := os.ReadDir("/proc/self/fd")
	return len(fds)
}
