package clustertest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/simterm"
)

// TestEveryMethodFromEveryNode runs the same script of merchant calls for
// a terminal on each node, once called on the node that holds it and once
// on each node that does not: the answers must be the same, line by line,
// and the terminal's acquirer must have done each operation once.
func TestEveryMethodFromEveryNode(t *testing.T) {
	c := newCluster(t, 3)
	c.provision("T0", "T1", "T2", "TOFF")
	terms := []*term{c.connect("T0", 0), c.connect("T1", 1), c.connect("T2", 2)}

	var wg sync.WaitGroup
	for home, tm := range terms {
		wg.Go(func() {
			var want []string
			for k := range c.nodes {
				caller := (home + k) % len(c.nodes) // the holder first
				got := c.script(tm, caller)
				if k == 0 {
					want = got
					continue
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s (on %s) called on %s:\n%s\nwant, as on its own node:\n%s", tm.tid, c.nodes[home].id, c.nodes[caller].id,
						lines(got), lines(want))
				}
			}
		})
	}
	wg.Wait()
	if d := c.acq.doubled(); len(d) > 0 {
		t.Errorf("commands performed twice by an acquirer: %v", d)
	}
}

func lines(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

// script calls every method for tm's terminal on node i and returns the
// answers as lines, with what the acquirer did; ids and times are left
// out, so two runs compare equal when they behaved the same.
func (c *cluster) script(tm *term, i int) []string {
	c.t.Helper()
	till := c.till(i, tm.tid)
	ctx := ctxFor(c.t, 2*time.Minute)
	var out []string
	log := func(step string, r *sdk.Response, err error, extra ...string) {
		out = append(out, fmt.Sprint(step, ": ", describe(r, err), extra))
	}
	call := func(method string, data map[string]string) *sdk.Response {
		r, err := till.Call(ctx, method, data)
		if err != nil {
			c.t.Errorf("%s on %s: %v", method, c.nodes[i].id, err)
			return &sdk.Response{Code: "transport error"}
		}
		return r
	}

	// A sale: answered once shown, then paid.
	r := call("v3.POS", saleData(tm.tid, "12.50", c.rcv.URL))
	sale := orderOf(r).TradeID
	out = append(out, "v3.POS: "+string(r.Code))
	c.waitState(i, tm.tid, sale, "paid", 20*time.Second)
	r = call("v3.QueryOrder", map[string]string{"trade_id": sale})
	out = append(out, fmt.Sprint("v3.QueryOrder: ", r.Code, " ", field(r, "transaction_info", "state"), " ", field(r, "transaction_info", "amount")))

	// Its reversal, on the terminal.
	r = call("v3.POSReversal", map[string]string{"tid": tm.tid, "trade_id": sale, "request_id": sdk.NewRequestID()})
	log("v3.POSReversal", r, nil, fmt.Sprintf("sale ops=%d reversal ops=%d", c.acq.ops(sale, "sale"), c.acq.ops(sale, "reversal")))
	r = call("v3.POSReversal", map[string]string{"tid": tm.tid, "trade_id": sale, "request_id": sdk.NewRequestID()})
	log("v3.POSReversal again", r, nil)

	// A refund of another sale (the acquirer, not the terminal).
	sale2 := c.paidSale(i, tm.tid)
	r = call("v3.CreateRefund", map[string]string{"trade_id": sale2, "refund_amount": "2.50", "refund_currency": "EUR",
		"refund_description": "cluster test", "request_id": sdk.NewRequestID()})
	out = append(out, fmt.Sprint("v3.CreateRefund: ", r.Code, " ", field(r, "state"), " ", field(r, "refund_amount")))

	// A sale the customer never pays: the terminal is busy meanwhile, and
	// POSCancel aborts it there.
	r = call("v3.POS", saleData(tm.tid, noCard, c.rcv.URL))
	waiting := orderOf(r).TradeID
	log("v3.POS no card", r, nil)
	r = call("v3.POS", saleData(tm.tid, "3.00", c.rcv.URL))
	out = append(out, "v3.POS while busy: "+string(r.Code))
	r = call("v3.POSCancel", map[string]string{"tid": tm.tid, "trade_id": waiting, "request_id": sdk.NewRequestID()})
	log("v3.POSCancel", r, nil)
	c.waitIdle(tm)
	r = call("v3.QueryOrder", map[string]string{"trade_id": waiting})
	out = append(out, fmt.Sprint("v3.QueryOrder cancelled: ", r.Code, " ", field(r, "transaction_info", "state")))

	// The same sale cancelled by CancelPayment.
	r = call("v3.POS", saleData(tm.tid, noCard, c.rcv.URL))
	waiting = orderOf(r).TradeID
	log("v3.POS no card", r, nil)
	r = call("v3.CancelPayment", map[string]string{"trade_id": waiting})
	log("v3.CancelPayment", r, nil)
	c.waitIdle(tm)
	if !poll(10*time.Second, func() bool { return c.state(i, tm.tid, waiting) != "processing" }) {
		c.t.Errorf("CancelPayment on %s: order %s still processing", c.nodes[i].id, waiting)
	}
	out = append(out, "after CancelPayment: "+c.state(i, tm.tid, waiting))

	// A terminal that is not connected anywhere.
	off := c.till(i, "TOFF")
	r, err := off.Call(ctx, "v3.POS", saleData("TOFF", "12.50", c.rcv.URL))
	log("v3.POS offline terminal", r, err)
	return out
}

// waitIdle waits until the terminal no longer shows a command in progress.
func (c *cluster) waitIdle(tm *term) {
	c.t.Helper()
	if !poll(15*time.Second, func() bool { return !busyScreens[tm.Current().Name] }) {
		c.t.Errorf("terminal %s still shows %s", tm.tid, tm.Current().Name)
	}
}

var busyScreens = map[string]bool{simterm.ScreenAmount: true, simterm.ScreenCardRead: true, simterm.ScreenAuthorising: true,
	simterm.ScreenReversalRequested: true, simterm.ScreenReversalProcessing: true}

// field reads a string at path in the answer's data.
func field(r *sdk.Response, path ...string) string {
	var v any
	if json.Unmarshal(r.Data, &v) != nil {
		return ""
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// TestConcurrentReversalsOverNodes: 100 reversals of one paid order,
// called at once, spread over three nodes: one succeeds, the others are
// refused, and the terminal reverses once.
func TestConcurrentReversalsOverNodes(t *testing.T) {
	c := newCluster(t, 3)
	c.provision("T0")
	c.connect("T0", 0)
	sale := c.paidSale(1, "T0")

	const n = 100
	codes := make([]protocol.Code, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for k := range n {
		till := c.till(k%3, "T0")
		wg.Go(func() {
			<-ready
			r, err := till.Call(ctxFor(t, time.Minute), "v3.POSReversal", map[string]string{"tid": "T0", "trade_id": sale, "request_id": sdk.NewRequestID()})
			if err != nil {
				t.Error(err)
				return
			}
			codes[k] = r.Code
		})
	}
	close(ready)
	wg.Wait()
	count := map[protocol.Code]int{}
	for _, code := range codes {
		count[code]++
	}
	if count[protocol.CodeOK] != 1 || count[protocol.CodeNotCancellable]+count[protocol.CodeAlreadyCancelled] != n-1 {
		t.Fatalf("answers: %v; want one 200, the rest -4115 or -4116", count)
	}
	c.waitState(2, "T0", sale, "cancelled", 10*time.Second)
	if ops := c.acq.ops(sale, "reversal"); ops != 1 {
		t.Errorf("the terminal reversed %d times", ops)
	}
	if got := c.count(`SELECT count(*) FROM commands WHERE trade_id = $1 AND kind = 'reversal'`, sale); got != 1 {
		t.Errorf("%d reversal commands in the database", got)
	}
	if got := c.count(`SELECT count(*) FROM reversals WHERE trade_id = $1`, sale); got != 1 {
		t.Errorf("%d reversals in the database", got)
	}
}

// TestRoutedCallsBeyondThePool: more concurrent calls on one node for
// terminals held by another than the node has database connections. Each
// call asks whether its terminal is online inside its transaction; that
// question must not wait for a connection the transactions hold.
func TestRoutedCallsBeyondThePool(t *testing.T) {
	c := newCluster(t, 2, func(o *options) { o.poolConns = 4 })
	const n = 12
	tids := make([]string, n)
	for i := range tids {
		tids[i] = fmt.Sprintf("T%02d", i)
	}
	c.provision(tids...)
	for _, tid := range tids {
		c.connect(tid, 0)
	}
	codes := make([]string, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i, tid := range tids {
		wg.Go(func() {
			<-ready
			start := time.Now()
			r, err := c.till(1, tid).Call(ctxFor(t, time.Minute), "v3.POS", saleData(tid, "12.50", c.rcv.URL))
			codes[i] = fmt.Sprintf("%s in %s", describe(r, err), time.Since(start).Round(10*time.Millisecond))
		})
	}
	close(ready)
	wg.Wait()
	for i, code := range codes {
		if code[:4] != "200 " {
			t.Errorf("v3.POS for %s on n1 (terminal on n0): %s", tids[i], code)
		}
	}
}
