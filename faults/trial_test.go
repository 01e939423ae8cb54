package faults

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
)

// trial is one run of a cell: a fresh database, a gateway, a terminal
// with its journal, and the merchant's till and notification endpoint.
type trial struct {
	t    *testing.T
	dsn  string
	gw   *gateway
	term *terminal
	rcv  *receiver
	till *sdk.Client
	// background holds the API calls a cell leaves running across a kill;
	// the trial waits for them before it checks.
	background []chan struct{}
}

const secret = "5ec2e7000000000000000000000000000000000000000000000000000000f417"

var orderSeq atomic.Int64

func newTrial(t *testing.T, store string, cardDelay time.Duration) *trial {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "posgate.db")
	if store == "postgres" {
		dsn = schemaDSN(t)
	}
	tr := &trial{t: t, dsn: dsn, gw: newGateway(t, dsn), rcv: newReceiver(t, secret)}
	tr.gw.provision(secret)
	tr.gw.start()
	tr.term = &terminal{t: t, server: tr.gw.URL, secret: secret, journal: filepath.Join(dir, "journal.jsonl"), cardDelay: cardDelay}
	tr.till = sdk.New(tr.gw.URL, tid, secret)
	return tr
}

// connect starts the terminal (with fault flags) and waits until the
// gateway has it online.
func (tr *trial) connect(faultFlags ...string) {
	tr.term.start(faultFlags...)
	tr.gw.waitOnline()
}

// restartTerminal kills the terminal and starts it again on its journal.
// The gateway is first seen to drop the dead link, so "online" afterwards
// is the new process.
func (tr *trial) restartTerminal(faultFlags ...string) {
	tr.term.kill()
	if !poll(10*time.Second, func() bool { return !tr.gw.online() }) {
		tr.t.Fatal("the gateway still has the killed terminal online")
	}
	tr.connect(faultFlags...)
}

func (tr *trial) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tr.t.Cleanup(cancel)
	return ctx
}

// sale starts a sale and returns its trade id. A -4203 (the terminal
// showed the amount late, after a dropped link) still carries the order.
func (tr *trial) sale(amount string) string {
	tr.t.Helper()
	o, err := tr.till.POS(tr.ctx(), &sdk.POSRequest{
		OrderID: fmt.Sprint(2026_0000_0000 + orderSeq.Add(1)), Amount: amount, Currency: "EUR",
		Description: "fault suite", NotifyURL: tr.rcv.URL,
	})
	var e *sdk.Error
	if errors.As(err, &e) && e.Code == protocol.CodeTerminalTimeout {
		if eo, ok := e.Order(); ok {
			return eo.TradeID
		}
	}
	mustf(tr.t, err, "v3.POS %s", amount)
	return o.TradeID
}

// state is the order's state as v3.QueryOrder shows it.
func (tr *trial) state(tradeID string) string {
	q, err := tr.till.QueryOrder(tr.ctx(), tradeID)
	if err != nil {
		return "query failed: " + err.Error()
	}
	return q.State
}

func (tr *trial) waitState(tradeID, want string) {
	tr.t.Helper()
	if !poll(20*time.Second, func() bool { return tr.state(tradeID) == want }) {
		tr.t.Fatalf("order %s is %s, want %s", tradeID, tr.state(tradeID), want)
	}
}

// authorisation is an approved pre-authorisation's trade id.
func (tr *trial) authorisation() string {
	tr.t.Helper()
	o, err := tr.till.POS(tr.ctx(), &sdk.POSRequest{
		Operation: sdk.OperationAuthorisation, OrderID: fmt.Sprint(2026_0000_0000 + orderSeq.Add(1)), Amount: "30.00", Currency: "EUR",
		Description: "fault suite", NotifyURL: tr.rcv.URL,
	})
	mustf(tr.t, err, "v3.POS authorisation")
	tr.waitState(o.TradeID, "authorized")
	return o.TradeID
}

func (tr *trial) paidSale() string {
	tr.t.Helper()
	tradeID := tr.sale("12.50")
	tr.waitState(tradeID, "paid")
	return tradeID
}

// reverseInBackground calls v3.POSReversal without waiting: the cell kills
// something while the call is open, so its answer is not the point.
func (tr *trial) reverseInBackground(tradeID string) {
	tr.inBackground(func(ctx context.Context) {
		tr.till.POSReversal(ctx, &sdk.POSReversalRequest{TradeID: tradeID})
	})
}

func (tr *trial) inBackground(call func(context.Context)) {
	done := make(chan struct{})
	tr.background = append(tr.background, done)
	ctx := tr.ctx()
	go func() {
		defer close(done)
		call(ctx)
	}()
}

// outage keeps the gateway down for d: the fault being injected is the
// length of the outage, so this wait is the fault, not a synchronisation.
func (tr *trial) outage(d time.Duration) {
	tr.gw.kill()
	time.Sleep(d)
	tr.gw.start()
}

// settleTimeout covers every deadline a cell can run into: the sale
// timeout, the expiry's abort wait, the reversal wait, the terminal's
// reconnect back-off and the first notification retry.
const settleTimeout = saleTimeout + reconcileAfter + reversalWait + 20*time.Second

// deliveryTimeout bounds the wait for notifications once the rest has
// settled. A kill in the middle of a delivery leaves its job running until
// River rescues it, 60 s later (notify.AttemptTimeout x 6), on the
// rescuer's next round.
const deliveryTimeout = 3 * time.Minute

// settle waits until nothing is left in flight and every notification is
// delivered, within the bounds above, then judges.
func (tr *trial) settle(want expectation) verdict {
	tr.t.Helper()
	for _, done := range tr.background {
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			tr.t.Fatal("an API call left running across a fault never returned")
		}
	}
	db := openDB(tr.t, tr.dsn)
	var snap snapshot
	var truthNow truth
	var readErr error
	read := func() bool {
		snap, readErr = readSnapshot(db)
		truthNow = readTruth(tr.t, tr.term.journal, tr.term.outputs())
		return readErr == nil
	}
	settled := poll(settleTimeout, func() bool { return read() && snap.settled() && truthNow.unacked == 0 })
	delivered := settled && poll(deliveryTimeout, func() bool { return read() && snap.undelivered == 0 })
	mustf(tr.t, readErr, "read the database")
	v := classify(truthNow, snap, tr.rcv, want)
	if !settled {
		// The deliveries were not waited for: what is still in flight is
		// the fault, counted below as stuck.
		v.unnotified = nil
	}
	if !settled && truthNow.unacked > 0 {
		v.stuck = append(v.stuck, fmt.Sprintf("%d terminal results never acknowledged", truthNow.unacked))
	}
	if !settled && v.clean() {
		v.stuck = append(v.stuck, fmt.Sprintf("a command, reversal or refund still in flight after %s", settleTimeout))
	}
	if settled && !delivered {
		v.stuck = append(v.stuck, fmt.Sprintf("%d notifications undelivered", snap.undelivered))
	}
	if !v.clean() {
		tr.t.Logf("gateway output:\n%s\nterminal output:\n%s", strings.Join(tr.gw.outputs(), "\n--- restart ---\n"), strings.Join(tr.term.outputs(), "\n--- restart ---\n"))
	}
	return v
}
