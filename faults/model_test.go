package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/sqlite"
	"github.com/posgate/posgate/vault"
)

// modelClock is the service's clock: it moves only when the model
// expires orders, so nothing else becomes due behind the model's back.
type modelClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *modelClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *modelClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fakeLink stands in for the terminals: it keeps what was sent, and a
// terminal that gets a command shows it at once, so StartSale returns
// without waiting.
type fakeLink struct {
	mu     sync.Mutex
	svc    *payment.Service
	online map[string]bool
	last   map[string]posgate.Command // tid -> the last command sent
}

func (l *fakeLink) SendCommand(ctx context.Context, d posgate.Dispatch) error {
	l.mu.Lock()
	on, svc := l.online[d.Command.TID], l.svc
	if on {
		l.last[d.Command.TID] = d.Command
	}
	l.mu.Unlock()
	if !on {
		return fmt.Errorf("send %s: %w", d.Command.ID, posgate.ErrTerminalOffline)
	}
	stage := posgate.StageOnScreen
	if d.Command.Kind == posgate.CommandReversal {
		stage = posgate.StageReversalRequested
	}
	return svc.Progress(ctx, d.Command.TID, posgate.Progress{CommandID: d.Command.ID, Stage: stage})
}

func (l *fakeLink) SendAbort(context.Context, string, string, posgate.AbortReason) error { return nil }

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

func (l *fakeLink) lastSent(tid string) posgate.Command {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[tid]
}

// mOrder is the model's order.
type mOrder struct {
	tradeID, tid string
	op           posgate.Operation
	amount       int64
	state        posgate.State
	refunded     int64
	refunds      int                   // refunds counted against the order (not failed)
	reversal     posgate.ReversalState // "" when none is in flight or approved
	expiresAt    time.Time
}

// mCommand is a command the model knows about; auto marks a reversal the
// gateway started by itself for a late approval.
type mCommand struct {
	posgate.Command
	auto bool
}

type model struct {
	orders   []*mOrder
	byTrade  map[string]*mOrder
	inFlight map[string]*mCommand // by terminal
	finished []*mCommand          // done or abandoned: their results may come again, late
	online   map[string]bool
}

var modelTIDs = []string{"M1", "M2"}

// saleStates is where a sale's result takes a processing order.
var saleStates = map[posgate.Outcome]posgate.State{
	posgate.OutcomeApproved: posgate.StatePaid, posgate.OutcomeDeclined: posgate.StateDeclined,
	posgate.OutcomeFailed: posgate.StateFailed, posgate.OutcomeInterrupted: posgate.StateFailed,
	posgate.OutcomeCancelled: posgate.StateCancelled, posgate.OutcomeExpired: posgate.StateExpired,
}

// modelEnv is the payment service on a real SQLite store, with the fake
// link and the model's clock, running its background work.
type modelEnv struct {
	ctx   context.Context
	st    posgate.Store
	svc   *payment.Service
	link  *fakeLink
	clock *modelClock
	creds *payment.Credentials
	stop  func()
}

func newModelEnv(dir string) (*modelEnv, error) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(dir, "model.db"), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	sealer, err := vault.New(make([]byte, 32))
	if err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	// 10:00 in the terminals' zone: the clock's jumps never reach
	// midnight, so reversals stay within their business day.
	clock := &modelClock{now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
	for _, tid := range modelTIDs {
		if _, err := payment.AddTerminal(ctx, st, sealer, payment.NewTerminal{Merchant: "Shop", TID: tid}, clock.Now()); err != nil {
			cancel()
			st.Close()
			return nil, err
		}
	}
	link := &fakeLink{online: map[string]bool{}, last: map[string]posgate.Command{}}
	creds := payment.NewCredentials(st, sealer)
	svc := payment.New(payment.Config{
		SaleTimeout: time.Minute, ReconcileAfter: modelReconcileAfter, DisplayWait: 5 * time.Second, ReversalWait: time.Millisecond, Now: clock.Now,
	}, payment.Deps{Store: st, Credentials: creds, Link: link, Payloads: httpapi.Payloads{}, Acquirer: acquirer.Simulated{}})
	link.svc = svc
	ran := make(chan struct{})
	go func() { svc.Run(ctx); close(ran) }()
	stop := func() {
		cancel()
		<-ran
		st.Close()
	}
	return &modelEnv{ctx: ctx, st: st, svc: svc, link: link, clock: clock, creds: creds, stop: stop}, nil
}

// outcomes are the results the model's terminals report: every outcome,
// approvals as often as all the others together, since only paid orders
// go on to reversals and refunds.
var outcomes = append(append([]posgate.Outcome(nil), posgate.Outcomes...), slices.Repeat([]posgate.Outcome{posgate.OutcomeApproved}, len(posgate.Outcomes)-1)...)

// TestOrderModel applies random sequences of the domain's operations to a
// plain model and, through the payment service, to a real SQLite store,
// and after every step compares states and the money invariants.
func TestOrderModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "posgate-model")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		env, err := newModelEnv(dir)
		if err != nil {
			rt.Fatal(err)
		}
		defer env.stop()
		ctx, st, svc, link, clock := env.ctx, env.st, env.svc, env.link, env.clock
		caller := func(tid string) payment.Caller {
			c, err := env.creds.Authenticate(ctx, tid)
			if err != nil {
				rt.Fatal(err)
			}
			return c
		}

		m := &model{byTrade: map[string]*mOrder{}, inFlight: map[string]*mCommand{}, online: map[string]bool{}}
		for _, tid := range modelTIDs {
			m.online[tid] = true
			link.setOnline(tid, true)
		}
		seq := 0
		nextID := func() string { seq++; return fmt.Sprintf("req%06d", seq) }
		pickOrder := func(rt *rapid.T) *mOrder {
			if len(m.orders) == 0 {
				rt.Skip("no order yet")
			}
			return rapid.SampledFrom(m.orders).Draw(rt, "order")
		}
		// adoptLate makes the model follow what a late approval set off:
		// the order's reversal in flight, and its command on the terminal
		// once it is free (queued until then).
		adoptLate := func(tid string) {
			var now posgate.Command
			err := st.Read(ctx, func(tx posgate.Tx) error { var err error; now, err = tx.InFlightCommand(tid); return err })
			if err != nil {
				return
			}
			if now.Kind != posgate.CommandReversal {
				rt.Fatalf("%s has %s %s in flight the model does not know", tid, now.Kind, now.ID)
			}
			m.inFlight[tid] = &mCommand{Command: now, auto: true}
			m.byTrade[now.TradeID].reversal = posgate.ReversalInFlight
		}
		finish := func(tid string) {
			m.finished = append(m.finished, m.inFlight[tid])
			delete(m.inFlight, tid)
			adoptLate(tid)
		}

		rt.Repeat(weighted(map[string]func(*rapid.T){
			"online": func(rt *rapid.T) {
				tid := rapid.SampledFrom(modelTIDs).Draw(rt, "tid")
				on := !m.online[tid]
				m.online[tid] = on
				link.setOnline(tid, on)
			},
			"sale": func(rt *rapid.T) {
				tid := rapid.SampledFrom(modelTIDs).Draw(rt, "tid")
				op := rapid.SampledFrom([]posgate.Operation{posgate.OpSale, posgate.OpAuthorisation}).Draw(rt, "operation")
				amount := rapid.Int64Range(10, 5000).Draw(rt, "amount")
				id := nextID()
				o, err := svc.StartSale(ctx, caller(tid), payment.SaleInput{
					Operation: op, OrderID: "1", Amount: fmt.Sprintf("%d.%02d", amount/100, amount%100), Currency: "EUR",
					Description: "model", PayMethod: "offline", SubPayMethod: "point_of_sales", RequestID: id, Fingerprint: id,
				})
				switch {
				case !m.online[tid]:
					wantErr(rt, err, posgate.ErrTerminalOffline)
				case m.inFlight[tid] != nil:
					wantErr(rt, err, posgate.ErrTerminalBusy)
				default:
					if err != nil || o.State != posgate.StateProcessing {
						rt.Fatalf("sale on idle online %s: %v, state %s", tid, err, o.State)
					}
					mo := &mOrder{tradeID: o.TradeID, tid: tid, op: op, amount: amount, state: posgate.StateProcessing, expiresAt: o.ExpiresAt}
					m.orders = append(m.orders, mo)
					m.byTrade[o.TradeID] = mo
					m.inFlight[tid] = &mCommand{Command: link.lastSent(tid)}
				}
			},
			"result": func(rt *rapid.T) {
				tid := rapid.SampledFrom(modelTIDs).Draw(rt, "tid")
				cmd := m.inFlight[tid]
				if cmd == nil {
					rt.Skip("nothing in flight")
				}
				out := rapid.SampledFrom(outcomes).Draw(rt, "outcome")
				if err := svc.Result(ctx, tid, posgate.Result{CommandID: cmd.ID, Outcome: out, TransactionID: "SIM" + cmd.ID}); err != nil {
					rt.Fatalf("result: %v", err)
				}
				o := m.byTrade[cmd.TradeID]
				switch {
				case cmd.auto && out == posgate.OutcomeApproved:
					o.reversal = posgate.ReversalApproved // the order keeps its state
				case cmd.auto:
					o.reversal = ""
				case cmd.Kind == posgate.CommandReversal && out == posgate.OutcomeApproved:
					o.state, o.reversal = posgate.StateCancelled, posgate.ReversalApproved
				case cmd.Kind == posgate.CommandReversal:
					o.reversal = ""
				default:
					o.state = saleStates[out]
					if o.state == posgate.StatePaid && o.op == posgate.OpAuthorisation {
						o.state = posgate.StateAuthorized
					}
				}
				finish(tid)
			},
			"late result": func(rt *rapid.T) {
				if len(m.finished) == 0 {
					rt.Skip("no finished command")
				}
				cmd := rapid.SampledFrom(m.finished).Draw(rt, "command")
				out := rapid.SampledFrom(posgate.Outcomes).Draw(rt, "outcome")
				reversing := m.byTrade[cmd.TradeID].reversal == posgate.ReversalInFlight
				if err := svc.Result(ctx, cmd.TID, posgate.Result{CommandID: cmd.ID, Outcome: out, TransactionID: "SIM" + cmd.ID}); err != nil {
					rt.Fatalf("late result: %v", err)
				}
				// A late approval is reversed automatically (issue 14): the
				// order keeps its state and gets a reversal in flight, whose
				// command waits queued while the terminal is busy.
				var rev posgate.Reversal
				err := st.Read(ctx, func(tx posgate.Tx) error { var err error; rev, err = tx.ActiveReversal(cmd.TradeID); return err })
				if err == nil && !reversing && rev.Origin == posgate.ReversalOfLateApproval && rev.State == posgate.ReversalInFlight {
					if out != posgate.OutcomeApproved {
						rt.Fatalf("a late %s result of %s set off a reversal", out, cmd.ID)
					}
					m.byTrade[cmd.TradeID].reversal = posgate.ReversalInFlight
				}
				if m.inFlight[cmd.TID] == nil {
					adoptLate(cmd.TID)
				}
			},
			"expire": func(rt *rapid.T) {
				// Each expiry waits for the service's one-second tick: kept
				// rare so a check stays well under a second on average.
				if rapid.IntRange(0, 2).Draw(rt, "expire now") != 0 {
					rt.Skip("not this time")
				}
				o := pickOrder(rt)
				if o.state != posgate.StateProcessing {
					rt.Skip("not processing")
				}
				// Offline terminals cannot answer the expiry's abort, so the
				// orders past their reconciliation deadline expire at the
				// service's next tick.
				for _, tid := range modelTIDs {
					m.online[tid] = false
					link.setOnline(tid, false)
				}
				now := o.expiresAt.Add(modelReconcileAfter + time.Second)
				clock.set(now)
				var due []*mOrder
				for _, mo := range m.orders {
					if mo.state == posgate.StateProcessing && !mo.expiresAt.Add(modelReconcileAfter).After(now) {
						due = append(due, mo)
					}
				}
				if !poll(10*time.Second, func() bool {
					for _, mo := range due {
						if storedOrder(rt, st, mo.tradeID).State != posgate.StateExpired {
							return false
						}
					}
					return true
				}) {
					rt.Fatalf("orders due at %s not expired", now)
				}
				for _, mo := range due {
					mo.state = posgate.StateExpired
					for tid, c := range m.inFlight {
						if c.TradeID == mo.tradeID {
							finish(tid)
						}
					}
				}
			},
			"cancel": func(rt *rapid.T) {
				o := pickOrder(rt)
				_, err := svc.CancelPayment(ctx, caller(o.tid), o.tradeID)
				switch o.state {
				case posgate.StateProcessing, posgate.StatePending, posgate.StatePaid, posgate.StateAuthorized:
				default:
					if err == nil {
						rt.Fatalf("cancel of a %s order accepted", o.state)
					}
					return
				}
				if o.refunds > 0 || o.reversal == posgate.ReversalInFlight {
					wantErr(rt, err, posgate.ErrNotCancellable)
					return
				}
				if err != nil {
					rt.Fatalf("cancel of a %s order: %v", o.state, err)
				}
				if c := m.inFlight[o.tid]; c != nil && c.TradeID == o.tradeID && c.Kind != posgate.CommandReversal {
					finish(o.tid)
				}
				o.state = posgate.StateCancelled
			},
			"reversal": func(rt *rapid.T) {
				o := pickOrder(rt)
				id := nextID()
				_, err := svc.Reverse(ctx, caller(o.tid), o.tradeID, id, id)
				accept := (o.state == posgate.StatePaid || o.state == posgate.StateAuthorized) && o.refunds == 0 && o.reversal == ""
				switch {
				case !accept:
					if err == nil || errors.Is(err, posgate.ErrTerminalTimeout) {
						rt.Fatalf("reversal of a %s order (refunds %d, reversal %q) accepted", o.state, o.refunds, o.reversal)
					}
				case !m.online[o.tid]:
					wantErr(rt, err, posgate.ErrTerminalOffline)
				case m.inFlight[o.tid] != nil:
					wantErr(rt, err, posgate.ErrTerminalBusy)
				default:
					// ReversalWait is 1 ms: the answer is -4203 with the
					// reversal in flight.
					wantErr(rt, err, posgate.ErrTerminalTimeout)
					o.reversal = posgate.ReversalInFlight
					m.inFlight[o.tid] = &mCommand{Command: link.lastSent(o.tid)}
				}
			},
			"refund": func(rt *rapid.T) {
				o := pickOrder(rt)
				amount := rapid.Int64Range(1, o.amount+100).Draw(rt, "refund")
				if amount == acquirer.AmountSlow {
					amount++ // 2 s at the simulated acquirer, and nothing the others do not show
				}
				id := nextID()
				r, _, err := svc.CreateRefund(ctx, caller(o.tid), payment.RefundInput{
					TradeID: o.tradeID, Amount: fmt.Sprintf("%d.%02d", amount/100, amount%100), Currency: "EUR", RequestID: id, Fingerprint: id,
				})
				if o.state != posgate.StatePaid || o.reversal == posgate.ReversalInFlight || amount > o.amount-o.refunded || o.refunds >= posgate.MaxRefunds-1 {
					wantErr(rt, err, posgate.ErrRefundNotAllowed)
					return
				}
				want := posgate.RefundRefunded
				switch amount {
				case acquirer.AmountFailed:
					want = posgate.RefundFailed
				case acquirer.AmountUnknown:
					want = posgate.RefundError
				}
				if err != nil || r.State != want {
					rt.Fatalf("refund of %d: %v, state %s, want %s", amount, err, r.State, want)
				}
				if want != posgate.RefundFailed {
					o.refunded += amount
					o.refunds++
				}
			},
			"": func(rt *rapid.T) { checkModel(rt, st, m) },
		}, map[string]int{"sale": 3, "result": 3, "reversal": 2, "refund": 2}))
	})
}

// weighted repeats the actions given a weight under numbered names, since
// Repeat draws every name equally often: orders must get paid often
// enough to go on to reversals and refunds.
func weighted(actions map[string]func(*rapid.T), weights map[string]int) map[string]func(*rapid.T) {
	out := make(map[string]func(*rapid.T), len(actions))
	for name, fn := range actions {
		out[name] = fn
		for i := 2; i <= weights[name]; i++ {
			out[fmt.Sprintf("%s %d", name, i)] = fn
		}
	}
	return out
}

func wantErr(rt *rapid.T, err, want error) {
	rt.Helper()
	if !errors.Is(err, want) {
		rt.Fatalf("got %v, want %v", err, want)
	}
}

func storedOrder(rt *rapid.T, st posgate.Store, tradeID string) posgate.Order {
	var o posgate.Order
	if err := st.Read(context.Background(), func(tx posgate.Tx) error { var err error; o, err = tx.Order(tradeID); return err }); err != nil {
		rt.Fatal(err)
	}
	return o
}

// checkModel compares the store with the model: every order's state and
// refunded amount, its reversal, and each terminal's command in flight;
// and money goes back at most once (refunded <= amount, never both
// refunded and reversed, one reversal per order), with at most one command
// in flight per terminal, counted in the tables themselves since the
// store's reads return one row.
func checkModel(rt *rapid.T, st posgate.Store, m *model) {
	rt.Helper()
	for _, q := range []string{
		`SELECT trade_id FROM reversals WHERE state IN ('in_flight', 'approved') GROUP BY trade_id HAVING count(*) > 1`,
		`SELECT tid FROM commands WHERE state = 'in_flight' GROUP BY tid HAVING count(*) > 1`,
	} {
		var key string
		switch err := st.(*sqlite.Store).DB().QueryRow(q).Scan(&key); {
		case err == nil:
			rt.Fatalf("%s: %s", key, q)
		case !errors.Is(err, sql.ErrNoRows):
			rt.Fatal(err)
		}
	}
	err := st.Read(context.Background(), func(tx posgate.Tx) error {
		for _, mo := range m.orders {
			o, err := tx.Order(mo.tradeID)
			if err != nil {
				return err
			}
			if o.State != mo.state || o.RefundedAmount != mo.refunded {
				return fmt.Errorf("order %s: stored %s refunded %d, model %s refunded %d", mo.tradeID, o.State, o.RefundedAmount, mo.state, mo.refunded)
			}
			if o.RefundedAmount > o.Amount {
				return fmt.Errorf("order %s refunded %d of %d", mo.tradeID, o.RefundedAmount, o.Amount)
			}
			rev, err := tx.ActiveReversal(mo.tradeID)
			switch {
			case errors.Is(err, posgate.ErrNotFound):
				if mo.reversal != "" {
					return fmt.Errorf("order %s: no active reversal, model %s", mo.tradeID, mo.reversal)
				}
			case err != nil:
				return err
			case rev.State != mo.reversal:
				return fmt.Errorf("order %s: reversal %s, model %q", mo.tradeID, rev.State, mo.reversal)
			case rev.State == posgate.ReversalApproved && o.RefundedAmount > 0:
				return fmt.Errorf("order %s: reversed in full and refunded %d: the money went back twice", mo.tradeID, o.RefundedAmount)
			}
		}
		for _, tid := range modelTIDs {
			c, err := tx.InFlightCommand(tid)
			want := m.inFlight[tid]
			switch {
			case errors.Is(err, posgate.ErrNotFound):
				if want != nil {
					return fmt.Errorf("%s: nothing in flight, model %s %s", tid, want.Kind, want.ID)
				}
			case err != nil:
				return err
			case want == nil || c.ID != want.ID:
				return fmt.Errorf("%s: %s %s in flight, model %v", tid, c.Kind, c.ID, want)
			}
		}
		return nil
	})
	if err != nil {
		rt.Fatal(err)
	}
}

// modelReconcileAfter is how long past its card time an unanswered order
// waits for its terminal in the model's service.
const modelReconcileAfter = time.Minute

// TestRefundDuringReversal: a refund accepted while a reversal of the
// same order is in flight would give the money back twice once the
// reversal is approved; the model test found it, and refunds now refuse an
// order with a reversal in flight (CheckRefund), as reversals refuse a
// refunded order.
func TestRefundDuringReversal(t *testing.T) {
	t.Parallel()
	env, err := newModelEnv(t.TempDir())
	mustf(t, err, "start the service")
	defer env.stop()
	ctx := env.ctx
	c, err := env.creds.Authenticate(ctx, "M1")
	mustf(t, err, "authenticate")
	env.link.setOnline("M1", true)
	o, err := env.svc.StartSale(ctx, c, payment.SaleInput{Operation: posgate.OpSale, OrderID: "1", Amount: "10.00", Currency: "EUR",
		Description: "x", PayMethod: "offline", SubPayMethod: "point_of_sales", RequestID: "r1", Fingerprint: "r1"})
	mustf(t, err, "sale")
	mustf(t, env.svc.Result(ctx, "M1", posgate.Result{CommandID: env.link.lastSent("M1").ID, Outcome: posgate.OutcomeApproved, TransactionID: "SIM1"}), "approve the sale")
	if _, err := env.svc.Reverse(ctx, c, o.TradeID, "r2", "r2"); !errors.Is(err, posgate.ErrTerminalTimeout) {
		t.Fatalf("reversal: %v, want it in flight", err)
	}
	_, _, refundErr := env.svc.CreateRefund(ctx, c, payment.RefundInput{TradeID: o.TradeID, Amount: "4.00", Currency: "EUR", RequestID: "r3", Fingerprint: "r3"})
	mustf(t, env.svc.Result(ctx, "M1", posgate.Result{CommandID: env.link.lastSent("M1").ID, Outcome: posgate.OutcomeApproved}), "approve the reversal")
	var after posgate.Order
	mustf(t, env.st.Read(ctx, func(tx posgate.Tx) error { var err error; after, err = tx.Order(o.TradeID); return err }), "read the order")
	if !errors.Is(refundErr, posgate.ErrRefundNotAllowed) || after.RefundedAmount != 0 {
		t.Fatalf("refund during a reversal accepted; order now %s refunded %d", after.State, after.RefundedAmount)
	}
}
