package payment

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/sqlite"
	"github.com/posgate/posgate/vault"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeLink records what the service sends and says which terminals are
// online.
type fakeLink struct {
	mu       sync.Mutex
	online   map[string]bool
	commands chan posgate.Dispatch
	aborts   chan string // command ids
}

func newFakeLink() *fakeLink {
	return &fakeLink{online: map[string]bool{}, commands: make(chan posgate.Dispatch, 16), aborts: make(chan string, 16)}
}

func (l *fakeLink) SendCommand(_ context.Context, d posgate.Dispatch) error {
	if !l.Online(d.Command.TID) {
		return posgate.ErrTerminalOffline
	}
	l.commands <- d
	return nil
}

func (l *fakeLink) SendAbort(_ context.Context, tid, commandID string, _ posgate.AbortReason) error {
	if !l.Online(tid) {
		return posgate.ErrTerminalOffline
	}
	l.aborts <- commandID
	return nil
}

func (l *fakeLink) Online(tid string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.online[tid]
}

func (l *fakeLink) setOnline(tid string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.online[tid] = on
}

// countingAcquirer counts the refunds asked of it.
type countingAcquirer struct {
	acquirer.Simulated
	mu    sync.Mutex
	calls map[string]int
}

func (a *countingAcquirer) Capture(ctx context.Context, r acquirer.AuthRequest) (acquirer.Result, error) {
	a.mu.Lock()
	a.calls[r.ID]++
	a.mu.Unlock()
	return a.Simulated.Capture(ctx, r)
}

func (a *countingAcquirer) Decrement(ctx context.Context, r acquirer.AuthRequest) (acquirer.Result, error) {
	a.mu.Lock()
	a.calls[r.ID]++
	a.mu.Unlock()
	return a.Simulated.Decrement(ctx, r)
}

func (a *countingAcquirer) Refund(ctx context.Context, r acquirer.Request) (acquirer.Result, error) {
	a.mu.Lock()
	a.calls[r.RefundID]++
	a.mu.Unlock()
	return a.Simulated.Refund(ctx, r)
}

type payloads struct{}

func (payloads) Order(o posgate.Order) map[string]string {
	return map[string]string{"trade_id": o.TradeID, "state": string(o.State)}
}

func (payloads) Refund(r posgate.Refund, _ posgate.Order) map[string]string {
	return map[string]string{"refund_id": r.RefundID, "state": string(r.State)}
}

type fixture struct {
	svc   *Service
	store *sqlite.Store
	link  *fakeLink
	clock *fakeClock
	acq   *countingAcquirer
	till  Caller // terminal T1
	other Caller // terminal T2, another merchant
}

func setup(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "posgate.db"), func(context.Context, *sqlite.Store) (sqlite.Dispatch, error) {
		return func([]sqlite.Scheduled) {}, nil // nothing delivers here
	})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	sealer, err := vault.New(key)
	require.NoError(t, err)
	clk := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	f := &fixture{store: st, link: newFakeLink(), clock: clk, acq: &countingAcquirer{calls: map[string]int{}}}
	f.svc = New(cfg, Deps{Store: st, Credentials: NewCredentials(st, sealer), Link: f.link, Payloads: payloads{}, Acquirer: f.acq})
	for _, tid := range []string{"T1", "T2"} {
		_, err := AddTerminal(ctx, st, sealer, NewTerminal{Merchant: "Shop " + tid, TID: tid}, clk.Now())
		require.NoError(t, err)
		f.link.setOnline(tid, true)
	}
	_, err = AddCashier(ctx, st, sealer, NewCashier{Merchant: "Shop T1", UID: "C1"}, clk.Now())
	require.NoError(t, err)
	if f.till, err = f.svc.Authenticate(ctx, "T1"); err != nil {
		t.Fatal(err)
	}
	if f.other, err = f.svc.Authenticate(ctx, "T2"); err != nil {
		t.Fatal(err)
	}
	return f
}

var requests int

func saleInput(amount string) SaleInput {
	requests++
	id := fmt.Sprintf("req-%d", requests)
	return SaleInput{Operation: posgate.OpSale, OrderID: "1", Amount: amount, Currency: "EUR", Description: "coffee",
		NotifyURL: "https://merchant.example/n", PayMethod: "offline", SubPayMethod: "point_of_sales", RequestID: id, Fingerprint: id}
}

// startSale runs StartSale in the background and returns the command the
// terminal got and the call's answer.
func (f *fixture) startSale(t *testing.T, amount string) (posgate.Dispatch, <-chan error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := f.svc.StartSale(context.Background(), f.till, saleInput(amount))
		errc <- err
	}()
	select {
	case d := <-f.link.commands:
		return d, errc
	case <-time.After(10 * time.Second):
		t.Fatal("no command sent")
		return posgate.Dispatch{}, nil
	}
}

func (f *fixture) order(t *testing.T, tradeID string) posgate.Order {
	t.Helper()
	o, err := f.svc.order(t.Context(), tradeID)
	require.NoError(t, err)
	return o
}

func (f *fixture) notifications(t *testing.T, tradeID string) []string {
	t.Helper()
	ns, err := f.svc.Notifications(t.Context(), false, 100)
	require.NoError(t, err)
	var states []string
	for i := len(ns) - 1; i >= 0; i-- {
		if ns[i].TradeID == tradeID && ns[i].RefundID == "" {
			states = append(states, ns[i].Payload["state"])
		}
	}
	return states
}

func TestSaleAnswersOnceShownByItsOwnTerminal(t *testing.T) {
	f := setup(t, Config{DisplayWait: 300 * time.Millisecond})
	d, errc := f.startSale(t, "12.50")
	// Another merchant's terminal naming the command moves nothing.
	require.NoError(t, f.svc.Progress(t.Context(), "T2", posgate.Progress{CommandID: d.Command.ID, Stage: posgate.StageOnScreen}))
	require.ErrorIs(t, <-errc, posgate.ErrTerminalTimeout, "only the command's terminal may show it")

	require.NoError(t, f.svc.Result(t.Context(), "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeDeclined}))
	d, errc = f.startSale(t, "12.50")
	require.Equal(t, posgate.CommandSale, d.Command.Kind)
	require.Equal(t, 2*time.Minute, d.CardTimeout, "the whole card time")
	require.NoError(t, f.svc.Progress(t.Context(), "T1", posgate.Progress{CommandID: d.Command.ID, Stage: posgate.StageOnScreen}))
	require.NoError(t, <-errc)
}

func TestDuplicateResultAppliedOnce(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	d, errc := f.startSale(t, "12.50")
	<-errc
	approved := posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}
	require.NoError(t, f.svc.Result(t.Context(), "T1", approved))
	require.NoError(t, f.svc.Result(t.Context(), "T1", approved), "a repeat (lost ack) is acknowledged")
	// A result naming another terminal's command is ignored.
	require.NoError(t, f.svc.Result(t.Context(), "T2", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeDeclined}))
	o := f.order(t, d.Order.TradeID)
	require.Equal(t, posgate.StatePaid, o.State)
	require.Equal(t, "tx-1", o.TransactionID)
	require.Equal(t, []string{"processing", "paid"}, f.notifications(t, o.TradeID), "one notification per change")
}

func TestExpiryWaitsForTheTerminalThenReversesALateApproval(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond, SaleTimeout: time.Minute, ReconcileAfter: 10 * time.Minute})
	d, errc := f.startSale(t, "12.50")
	<-errc
	ctx := t.Context()

	// Card time over, terminal online: it is told to stop, once.
	f.clock.Advance(time.Minute)
	require.NoError(t, f.svc.expireDue(ctx))
	require.Equal(t, d.Command.ID, <-f.link.aborts)
	require.NoError(t, f.svc.expireDue(ctx))
	require.Empty(t, f.link.aborts, "one abort per order")

	// It went away without answering: the order waits for its report.
	f.link.setOnline("T1", false)
	f.clock.Advance(9 * time.Minute)
	require.NoError(t, f.svc.expireDue(ctx))
	require.Equal(t, posgate.StateProcessing, f.order(t, d.Order.TradeID).State)

	// Past the reconciliation deadline it expires, its command abandoned.
	f.clock.Advance(2 * time.Minute)
	require.NoError(t, f.svc.expireDue(ctx))
	require.Equal(t, posgate.StateExpired, f.order(t, d.Order.TradeID).State)
	f.svc.mu.Lock()
	require.Empty(t, f.svc.aborted, "no abort left behind")
	f.svc.mu.Unlock()

	// The terminal comes back with an approval: it is reversed, once.
	f.link.setOnline("T1", true)
	late := posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-late"}
	require.NoError(t, f.svc.Result(ctx, "T1", late))
	rev := <-f.link.commands
	require.Equal(t, posgate.CommandReversal, rev.Command.Kind)
	require.Equal(t, d.Order.TradeID, rev.Command.TradeID)
	require.NoError(t, f.svc.Result(ctx, "T1", late), "a repeat of the late approval")
	require.Empty(t, f.link.commands, "reversed once")
	o := f.order(t, d.Order.TradeID)
	require.Equal(t, posgate.StateExpired, o.State)
	require.Equal(t, posgate.LateApprovalReversing, o.Reconciliation)
	require.Equal(t, "tx-late", o.TransactionID)

	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: rev.Command.ID, Outcome: posgate.OutcomeApproved}))
	o = f.order(t, d.Order.TradeID)
	require.Equal(t, posgate.LateApprovalReversed, o.Reconciliation)
	require.Equal(t, []string{"processing", "expired", "expired", "expired"}, f.notifications(t, o.TradeID))
	require.Equal(t, int64(1), f.svc.LateApprovals()[posgate.LateApprovalReversed])
}

// A late reversal waits, queued, while its terminal is busy with another
// command, and goes when that one is done.
func TestLateReversalWaitsForABusyTerminal(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	ctx := t.Context()
	d, errc := f.startSale(t, "1.08")
	<-errc
	cashier, err := f.svc.Authenticate(ctx, "C1")
	require.NoError(t, err)
	_, err = f.svc.CancelPayment(ctx, cashier, d.Order.TradeID)
	require.NoError(t, err)
	<-f.link.aborts

	next, errc := f.startSale(t, "3.00")
	<-errc
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-late"}))
	require.Empty(t, f.link.commands, "the terminal is busy with the next sale")
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: next.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-2"}))
	rev := <-f.link.commands
	require.Equal(t, posgate.CommandReversal, rev.Command.Kind)
	require.Equal(t, d.Order.TradeID, rev.Order.TradeID)
}

func TestCancelWinningTheExpiryLeavesNoAbortBehind(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond, SaleTimeout: time.Minute})
	ctx := t.Context()
	d, errc := f.startSale(t, "12.50")
	<-errc
	f.clock.Advance(time.Minute)
	require.NoError(t, f.svc.expireDue(ctx))
	<-f.link.aborts
	cashier, err := f.svc.Authenticate(ctx, "C1")
	require.NoError(t, err)
	_, err = f.svc.CancelPayment(ctx, cashier, d.Order.TradeID)
	require.NoError(t, err)
	require.NoError(t, f.svc.expireDue(ctx))
	f.svc.mu.Lock()
	defer f.svc.mu.Unlock()
	require.Empty(t, f.svc.aborted)
}

// A refund left in processing by a crash is finished by the recovery job,
// with one more acquirer call under the same idempotency key, and only
// once however often the job runs.
func TestStuckRefundRecovered(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	ctx := t.Context()
	d, errc := f.startSale(t, "12.50")
	<-errc
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	// What a crash right after the acquirer call leaves: the refund in
	// processing, the acquirer asked once.
	r := posgate.Refund{RefundID: newID(), TradeID: d.Order.TradeID, MerchantID: d.Order.MerchantID, User: "C1", Amount: 500, Currency: "EUR",
		RequestID: "rq", State: posgate.RefundProcessing, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	require.NoError(t, f.store.InTx(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(r.TradeID)
		if err != nil {
			return err
		}
		o.RefundedAmount, o.RefundCount = 500, 1
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		return tx.InsertRefund(r)
	}))
	f.acq.calls[r.RefundID] = 1

	require.NoError(t, f.svc.recoverRefunds(ctx))
	require.Equal(t, 1, f.acq.calls[r.RefundID], "not before the acquirer call could have ended")
	f.clock.Advance(f.svc.staleAfter())
	require.NoError(t, f.svc.recoverRefunds(ctx))
	require.NoError(t, f.svc.recoverRefunds(ctx))
	require.Equal(t, 2, f.acq.calls[r.RefundID], "asked again once")
	rs, err := f.svc.Refunds(ctx, r.TradeID)
	require.NoError(t, err)
	require.Equal(t, posgate.RefundRefunded, rs[0].State)
}

// A capture left in processing by a crash is finished by the recovery
// job, once.
func TestStuckCaptureRecovered(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	ctx := t.Context()
	in := saleInput("30.00")
	in.Operation = posgate.OpAuthorisation
	errc := make(chan error, 1)
	go func() { _, err := f.svc.StartSale(context.Background(), f.till, in); errc <- err }()
	d := <-f.link.commands
	<-errc
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	require.Equal(t, posgate.StateAuthorized, f.order(t, d.Order.TradeID).State)
	cp := posgate.Capture{CaptureID: newID(), TradeID: d.Order.TradeID, MerchantID: d.Order.MerchantID, User: "C1", RequestID: "rq",
		Amount: 2500, AuthorisedAmount: 3000, Currency: "EUR", State: posgate.CaptureProcessing, CreatedAt: f.clock.Now()}
	require.NoError(t, f.store.InTx(ctx, func(tx posgate.Tx) error { return tx.InsertCapture(cp) }))

	require.NoError(t, f.svc.recoverCaptures(ctx))
	require.Zero(t, f.acq.calls[cp.CaptureID], "not before the acquirer call could have ended")
	f.clock.Advance(f.svc.staleAfter())
	require.NoError(t, f.svc.recoverCaptures(ctx))
	require.NoError(t, f.svc.recoverCaptures(ctx))
	require.Equal(t, 1, f.acq.calls[cp.CaptureID], "asked once")
	o := f.order(t, d.Order.TradeID)
	require.Equal(t, posgate.StatePaid, o.State)
	require.Equal(t, int64(2500), o.Amount)
}

// A progress frame about another terminal's command, or about no command
// at all, is refused alone: the batch it came in with is stored.
func TestForeignProgressRefusedAlone(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.svc.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	d, errc := f.startSale(t, "12.50")
	<-errc
	require.NoError(t, f.svc.Progress(ctx, "T2", posgate.Progress{CommandID: d.Command.ID, Stage: posgate.StageApproved}))
	require.NoError(t, f.svc.Progress(ctx, "T2", posgate.Progress{CommandID: "no-such-command", Stage: posgate.StageOnScreen}))
	require.NoError(t, f.svc.Progress(ctx, "T1", posgate.Progress{CommandID: d.Command.ID, Stage: posgate.StageCardRead}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		var evs []posgate.CommandEvent
		require.NoError(t, f.store.Read(ctx, func(tx posgate.Tx) error {
			var err error
			evs, err = tx.Events(d.Command.ID)
			return err
		}))
		if len(evs) > 0 {
			require.Len(t, evs, 1)
			require.Equal(t, posgate.StageCardRead, evs[0].Stage, "only the command's own terminal's report")
			return
		}
		require.True(t, time.Now().Before(deadline), "the terminal's own progress was never stored")
		time.Sleep(5 * time.Millisecond)
	}
}

// A decrement a crash left processing (the reduction off the order, the
// acquirer's answer never recorded) is finished by the recovery job,
// asking the acquirer once more under its id, once.
func TestStuckDecrementRecovered(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond})
	ctx := t.Context()
	in := saleInput("30.00")
	in.Operation = posgate.OpAuthorisation
	errc := make(chan error, 1)
	go func() { _, err := f.svc.StartSale(context.Background(), f.till, in); errc <- err }()
	d := <-f.link.commands
	<-errc
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	dc := posgate.Decrement{DecrementID: newID(), TradeID: d.Order.TradeID, MerchantID: d.Order.MerchantID, User: "T1", RequestID: "rq",
		Amount: 500, Before: 3000, After: 2500, Currency: "EUR", State: posgate.DecrementProcessing, CreatedAt: f.clock.Now()}
	require.NoError(t, f.store.InTx(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(dc.TradeID)
		if err != nil {
			return err
		}
		if err := tx.InsertDecrement(dc); err != nil {
			return err
		}
		o.Amount = dc.After
		return tx.UpdateOrder(o)
	}))

	require.NoError(t, f.svc.recoverDecrements(ctx))
	require.Zero(t, f.acq.calls[dc.DecrementID], "not before the acquirer call could have ended")
	f.clock.Advance(f.svc.staleAfter())
	require.NoError(t, f.svc.recoverDecrements(ctx))
	require.NoError(t, f.svc.recoverDecrements(ctx))
	require.Equal(t, 1, f.acq.calls[dc.DecrementID], "asked once")
	var ds []posgate.Decrement
	require.NoError(t, f.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		ds, err = tx.DecrementsForTrade(dc.TradeID)
		return err
	}))
	require.Len(t, ds, 1)
	require.Equal(t, posgate.DecrementDecremented, ds[0].State)
	o := f.order(t, dc.TradeID)
	require.Equal(t, posgate.StateAuthorized, o.State)
	require.Equal(t, int64(2500), o.Amount)
}

// The reversal's command carries its order to the terminal, and its
// request_id, once used, answers with the order as it stands.
func TestReversalSentWithItsOrderAndRequestOnce(t *testing.T) {
	f := setup(t, Config{DisplayWait: time.Millisecond, ReversalWait: 10 * time.Second})
	d, errc := f.startSale(t, "12.50")
	<-errc
	require.NoError(t, f.svc.Result(t.Context(), "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	paid := f.order(t, d.Order.TradeID)

	type answer struct {
		o   posgate.Order
		err error
	}
	done := make(chan answer, 1)
	go func() {
		o, err := f.svc.Reverse(context.Background(), f.till, paid.TradeID, "rev-1", "fp-1")
		done <- answer{o, err}
	}()
	var rev posgate.Dispatch
	select {
	case rev = <-f.link.commands:
	case <-time.After(10 * time.Second):
		t.Fatal("no reversal sent")
	}
	require.Equal(t, posgate.CommandReversal, rev.Command.Kind)
	require.Equal(t, paid.TradeID, rev.Order.TradeID, "the terminal gets the order it reverses")
	require.Equal(t, paid.Amount, rev.Order.Amount)
	require.NoError(t, f.svc.Result(t.Context(), "T1", posgate.Result{CommandID: rev.Command.ID, Outcome: posgate.OutcomeApproved}))
	a := <-done
	require.NoError(t, a.err)
	require.Equal(t, posgate.StateCancelled, a.o.State)

	_, err := f.svc.Reverse(t.Context(), f.till, paid.TradeID, "rev-1", "fp-1")
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	require.NotNil(t, dup.Order, "the same request again learns the outcome")
	require.Equal(t, posgate.StateCancelled, dup.Order.State)
	_, err = f.svc.Reverse(t.Context(), f.till, "no-such-trade", "rev-1", "fp-1")
	require.ErrorAs(t, err, &dup, "a used request_id is refused before the unknown order")
}
