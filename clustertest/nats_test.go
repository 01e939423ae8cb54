package clustertest

import (
	"sort"
	"testing"
	"time"
)

// TestNATSRestartAndOutage runs sales and reversals called on nodes that do
// not hold the terminals while NATS restarts, and while it is down for
// -clustertest.outage (30 s, as issue 15 asks): every answer is a success,
// merely slower without doorbells (the holder's sweep and the callers'
// polls do their work), and nothing is lost or doubled.
func TestNATSRestartAndOutage(t *testing.T) {
	c := newCluster(t, 3)
	tids, probes := []string{"T0", "T1", "T2"}, []string{"P0", "P1", "P2"}
	c.provision(append(tids, probes...)...)
	for k := range 3 {
		c.connect(tids[k], k)
		c.connect(probes[k], k)
	}
	// The traffic's balancer rotates over the nodes, so two calls in three
	// are routed.
	tr := c.startTraffic(tids...)
	tr.waitCycles(6, 30*time.Second)

	latency := func(phase string, n int) {
		t.Helper()
		var ds []time.Duration
		for k := range n {
			start := time.Now()
			p := k % 3
			sale := c.paidSale((p+1)%3, probes[p])
			c.reverse((p+2)%3, probes[p], sale)
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("%s: routed sale+reversal %v .. %v (median %v)", phase, ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond))
	}
	latency("NATS up", 6)

	c.nats.stop()
	c.nats.start()
	if !poll(20*time.Second, func() bool { return c.nats.clientCount() == len(c.nodes) }) {
		t.Fatalf("%d of %d nodes reconnected to NATS", c.nats.clientCount(), len(c.nodes))
	}
	tr.waitCycles(6, 30*time.Second)
	latency("after a NATS restart", 6)

	c.nats.stop()
	down, before := time.Now(), tr.cycles.Load()
	latency("NATS down", 2)
	// The outage's length is the fault injected; traffic runs meanwhile.
	for time.Since(down) < *outageFlag {
		tr.waitCycles(1, 30*time.Second)
	}
	t.Logf("NATS down for %s: %d sales reversed end to end meanwhile by the traffic's %d tills, every answer a success",
		time.Since(down).Round(time.Second), tr.cycles.Load()-before, len(tids))
	c.nats.start()
	if !poll(20*time.Second, func() bool { return c.nats.clientCount() == len(c.nodes) }) {
		t.Fatalf("%d of %d nodes reconnected to NATS", c.nats.clientCount(), len(c.nodes))
	}
	tr.waitCycles(6, 30*time.Second)
	latency("NATS back", 6)
	tr.halt()
	tr.audit(t)
}

// reverse reverses sale on node i and expects the order cancelled.
func (c *cluster) reverse(i int, tid, sale string) {
	c.t.Helper()
	r, err := c.till(i, tid).Call(ctxFor(c.t, 30*time.Second), "v3.POSReversal", map[string]string{"tid": tid, "trade_id": sale, "request_id": newRequestID()})
	if err != nil || r.Code != "200" || orderOf(r).State != "cancelled" {
		c.t.Fatalf("v3.POSReversal on %s: %s", c.nodes[i].id, describe(r, err))
	}
}
