package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
)

// traffic is merchants running sales and reversals of their terminals
// through a round-robin balancer over the nodes, one loop per terminal,
// recording every answer.
type traffic struct {
	c      *cluster
	merch  *balancer
	stop   chan struct{}
	wg     sync.WaitGroup
	cycles atomic.Int64 // sales reversed end to end

	mu      sync.Mutex
	offline []time.Time    // when each -4201 or -4203 was answered
	calls   map[string]int // "method code" → count
	failed  []string       // answers that are neither a success nor a reconnect window's -4201/-4203
	trades  []string
}

func (c *cluster) startTraffic(tids ...string) *traffic {
	var order []func() string
	for _, n := range c.nodes {
		order = append(order, n.address)
	}
	tr := &traffic{c: c, merch: newBalancer(c.t, order...), stop: make(chan struct{}), calls: map[string]int{}}
	for _, tid := range tids {
		tr.wg.Go(func() { tr.loop(tid) })
	}
	return tr
}

func (tr *traffic) halt() {
	close(tr.stop)
	tr.wg.Wait()
}

// waitCycles waits until n more cycles completed.
func (tr *traffic) waitCycles(n int64, d time.Duration) {
	tr.c.t.Helper()
	target := tr.cycles.Load() + n
	if !poll(d, func() bool { return tr.cycles.Load() >= target }) {
		tr.c.t.Fatalf("traffic stalled: %d cycles, want %d; answers %v", tr.cycles.Load(), target, tr.calls)
	}
}

func (tr *traffic) record(method string, r *sdk.Response, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err != nil {
		tr.calls[method+" transport error"]++
		tr.failed = append(tr.failed, fmt.Sprintf("%s: %v", method, err))
		return
	}
	tr.calls[fmt.Sprint(method, " ", r.Code)]++
	switch r.Code {
	case protocol.CodeOK:
	case protocol.CodeTerminalOffline, protocol.CodeTerminalTimeout:
		tr.offline = append(tr.offline, time.Now())
	case protocol.CodeRateLimited:
		// A call that reached a node between the balancer's readiness
		// check and the node's SIGTERM: refused, nothing done, retried,
		// as HAProxy's retry-on 503 does (deploy/haproxy.cfg). Allowed
		// within a restart window only, like an offline terminal.
		if !strings.Contains(r.Message, "draining") {
			tr.failed = append(tr.failed, fmt.Sprintf("%s: %s", method, describe(r, nil)))
			break
		}
		tr.offline = append(tr.offline, time.Now())
	default:
		tr.failed = append(tr.failed, fmt.Sprintf("%s: %s", method, describe(r, nil)))
	}
}

func (tr *traffic) loop(tid string) {
	secret, _ := tr.c.secret(tid)
	till := sdk.New(tr.merch.URL, tid, secret)
	// A new connection per call, so each goes to the balancer's next node.
	till.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx := context.Background()
	stopped := func() bool {
		select {
		case <-tr.stop:
			return true
		default:
			return false
		}
	}
	pause := func() { // a -4201 means "try again shortly", as a till would
		select {
		case <-tr.stop:
		case <-time.After(100 * time.Millisecond):
		}
	}
	for !stopped() {
		r, err := till.Call(ctx, "v3.POS", saleData(tid, "12.50", tr.c.rcv.URL))
		tr.record("v3.POS", r, err)
		if err != nil || (r.Code != protocol.CodeOK && r.Code != protocol.CodeTerminalTimeout) {
			pause()
			continue
		}
		sale := orderOf(r).TradeID
		tr.mu.Lock()
		tr.trades = append(tr.trades, sale)
		tr.mu.Unlock()
		var state string
		if !poll(60*time.Second, func() bool {
			q, err := till.QueryOrder(ctx, sale)
			if err == nil {
				state = q.State
			}
			return err == nil && state != "processing" && state != "pending"
		}) {
			tr.mu.Lock()
			tr.failed = append(tr.failed, "sale "+sale+" still "+state)
			tr.mu.Unlock()
			continue
		}
		if state != "paid" {
			continue
		}
		for !stopped() {
			r, err := till.Call(ctx, "v3.POSReversal", map[string]string{"tid": tid, "trade_id": sale, "request_id": sdk.NewRequestID()})
			tr.record("v3.POSReversal", r, err)
			if err == nil && r.Code == protocol.CodeOK {
				tr.cycles.Add(1)
				break
			}
			if err == nil && r.Code == protocol.CodeTerminalTimeout {
				break // applied later; the check at the end finds it
			}
			pause()
		}
	}
}

// audit waits until nothing is in flight and every notification is
// delivered, then compares the database, the acquirers and the merchant's
// notification endpoint: nothing lost, nothing doubled.
func (tr *traffic) audit(t *testing.T) {
	t.Helper()
	c := tr.c
	if !poll(90*time.Second, c.nothingInFlight) {
		t.Fatal("commands, reversals or orders still in flight")
	}
	if !poll(120*time.Second, func() bool { return c.undelivered() == 0 }) {
		t.Errorf("%d notifications undelivered", c.undelivered())
	}
	if d := c.acq.doubled(); len(d) > 0 {
		t.Errorf("doubled: commands performed twice by a terminal: %v", d)
	}
	lost := 0
	for _, sale := range tr.trades {
		var state string
		c.db.QueryRow(context.Background(), `SELECT state FROM orders WHERE trade_id = $1`, sale).Scan(&state)
		sold, reversed := c.acq.ops(sale, "sale"), c.acq.ops(sale, "reversal")
		want := map[[2]int]string{{1, 0}: "paid", {1, 1}: "cancelled"}[[2]int{sold, reversed}]
		if want != "" && state != want || sold > 1 || reversed > 1 {
			lost++
			t.Errorf("lost or doubled: order %s is %s in the database; its terminal sold %d times and reversed %d", sale, state, sold, reversed)
			continue
		}
		if want != "" && !poll(10*time.Second, func() bool { return c.rcv.got(sale, state) }) {
			t.Errorf("order %s %s, but the merchant was notified %v", sale, state, c.rcv.states(sale))
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	keys := make([]string, 0, len(tr.calls))
	for k := range tr.calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	summary := ""
	for _, k := range keys {
		summary += fmt.Sprintf(" [%s]=%d", k, tr.calls[k])
	}
	t.Logf("%d sales, %d reversed end to end; answers:%s", len(tr.trades), tr.cycles.Load(), summary)
	if len(tr.failed) > 0 {
		t.Errorf("%d merchant calls failed: %v", len(tr.failed), tr.failed)
	}
}

// outsideWindows lists the -4201, -4203 and draining -1006 answers given outside every
// reconnect window (a window is [from, to]; an answer may arrive up to
// the reversal wait after its window).
func (tr *traffic) outsideWindows(windows [][2]time.Time) []time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []time.Time
	for _, at := range tr.offline {
		inside := false
		for _, w := range windows {
			if !at.Before(w[0]) && !at.After(w[1].Add(reversalWait+time.Second)) {
				inside = true
			}
		}
		if !inside {
			out = append(out, at)
		}
	}
	return out
}

// TestRollingRestart stops and starts each of three nodes in turn (SIGTERM,
// then a new process) under continuous sales and reversals: no merchant call
// fails other than -4201/-4203 while a terminal reconnects and -1006 for a
// call that reached a node as it began to drain, nothing is lost or
// doubled.
func TestRollingRestart(t *testing.T) {
	c := newCluster(t, 3)
	tids := []string{"T0", "T1", "T2", "T3", "T4", "T5"}
	c.provision(tids...)
	for k, tid := range tids {
		c.connect(tid, k%3)
	}
	tr := c.startTraffic(tids...)
	tr.waitCycles(6, 30*time.Second)
	var windows [][2]time.Time // from SIGTERM until every terminal is on another node
	for _, n := range c.nodes {
		from := time.Now()
		n.stop()
		t.Logf("node %s drained and stopped in %s (exit %d)", n.id, time.Since(from).Round(time.Millisecond), n.p.ExitCode())
		if code := n.p.ExitCode(); code != 0 {
			t.Errorf("node %s exited %d after SIGTERM", n.id, code)
		}
		for _, tid := range tids {
			if !poll(20*time.Second, func() bool { h := c.holder(tid); return h != "" && h != n.id }) {
				t.Fatalf("%s held by %q after %s stopped", tid, c.holder(tid), n.id)
			}
		}
		windows = append(windows, [2]time.Time{from, time.Now()})
		tr.waitCycles(8, 30*time.Second)
		n.start()
		tr.waitCycles(8, 30*time.Second)
	}
	tr.halt()
	tr.audit(t)
	if out := tr.outsideWindows(windows); len(out) > 0 {
		t.Errorf("%d answers -4201 or -4203 outside a node's restart: %v", len(out), out)
	}
}
