package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/simterm"
)

// runLoad runs a reversal, sale or query benchmark against posgate, then
// (when it started posgate itself) the same client code against the
// baseline.
func runLoad(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Machine: machine(), Scenario: cfg.Scenario, Terminals: cfg.Terminals, Concurrency: cfg.Concurrency}
	if cfg.Scenario != ScenarioQuery {
		rep.Wait = cfg.Wait
	}
	if cfg.Concurrency > cfg.Terminals {
		rep.Notes = append(rep.Notes, "concurrency above terminals: clients share terminals and some answers are -4202 busy")
	}
	target, db := cfg.Server, cfg.DB
	var gateway *child
	var dir string
	if target == "" {
		var err error
		if dir, err = os.MkdirTemp("", "posgate-bench"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "posgate.db")
		key := randomKey()
		getenv := func(k string) string {
			if k == "POSGATE_MASTER_KEY" {
				return key
			}
			return cfg.Getenv(k)
		}
		if err := provision(ctx, getenv, db, cfg.Terminals); err != nil {
			return nil, err
		}
		gateway, err = startChild(ctx, cfg.Binary, []string{"POSGATE_MASTER_KEY=" + key, "POSGATE_ADMIN_TOKEN=bench"}, append([]string{"serve", "--acquirer", "simulated", "--db", db, "--log-level", "warn", "--allow-private-notify",
			// The load comes from one address and is the point: no rate limit.
			"--rate-user", "1e9", "--rate-user-burst", "1e9", "--rate-addr", "1e9", "--rate-addr-burst", "1e9",
			"--rate-hello", "1e9", "--rate-hello-burst", "1e9", "--rate-accept", "1e9", "--rate-accept-burst", "1e9",
			// The terminals plus room for the clients and /metrics.
			"--max-conns", strconv.Itoa(cfg.Terminals + 1000)}, cfg.ServeArgs...)...)
		if err != nil {
			return nil, err
		}
		defer gateway.stop()
		target = gateway.URL
	} else {
		if db == "" {
			return nil, errors.New("--server needs --db, the target's database, to provision the benchmark's terminals")
		}
		if err := provision(ctx, cfg.Getenv, db, cfg.Terminals); err != nil {
			return nil, err
		}
	}

	receiver, err := newReceiver()
	if err != nil {
		return nil, err
	}
	defer receiver.close()
	cfg.notifyURL = receiver.url
	cfg.receiver = receiver
	stopTerminals, err := connectTerminals(ctx, target, cfg.Terminals)
	if err != nil {
		return nil, err
	}
	cpu0 := gatewayCPU(gateway)
	res, err := drive(ctx, cfg, target, "posgate")
	cpu := gatewayCPU(gateway) - cpu0
	stopTerminals()
	if err != nil {
		return nil, err
	}
	res.fill(rep)
	rep.NotificationsReceived = receiver.count.Load()
	if gateway != nil {
		rep.ServerRSSBytes = rss(gateway.cmd.Process.Pid)
		rep.ServerCPUMillisPerCycle = perCycle(cpu, res.cycles)
	}
	if gateway == nil {
		rep.Notes = append(rep.Notes, "no baseline: it is measured only when the benchmark starts the gateway itself")
		return rep, nil
	}

	base, err := startChild(ctx, cfg.Binary, nil, "bench", "baseline-server", "--db", filepath.Join(dir, "baseline.db"))
	if err != nil {
		return nil, err
	}
	defer base.stop()
	stopBare, err := connectBareTerminals(ctx, base.URL, cfg.Terminals)
	if err != nil {
		return nil, err
	}
	bcfg := cfg
	bcfg.receiver = nil // the baseline notifies nothing: its sales are polled
	if cfg.Wait == WaitNotification {
		rep.Notes = append(rep.Notes, "the baseline polls v3.QueryOrder (once: it answers paid at once); it sends no notifications")
	}
	bcpu0 := gatewayCPU(base)
	bres, err := drive(ctx, bcfg, base.URL, "baseline")
	bcpu := gatewayCPU(base) - bcpu0
	stopBare()
	if err != nil {
		return nil, err
	}
	b := &Report{}
	bres.fill(b)
	rep.Baseline = &BaselineReport{CyclesPerSecond: b.CyclesPerSecond, Cycles: b.Cycles, LatencyMS: b.LatencyMS, ErrorsByCode: b.ErrorsByCode, ServerRSSBytes: rss(base.cmd.Process.Pid),
		ServerCPUMillisPerCycle: perCycle(bcpu, bres.cycles)}
	if b.CyclesPerSecond > 0 {
		rep.RatioVsBaseline = rep.CyclesPerSecond / b.CyclesPerSecond
	}
	return rep, nil
}

// gatewayCPU is the CPU seconds a server child has used; 0 for a server
// the benchmark did not start.
func gatewayCPU(c *child) float64 {
	if c == nil {
		return 0
	}
	return cpuSeconds(c.cmd.Process.Pid)
}

// perCycle is the server's CPU milliseconds per completed cycle: unlike
// cycles per second it barely moves when other work shares the cores.
func perCycle(cpuSeconds float64, cycles int64) float64 {
	if cycles == 0 {
		return 0
	}
	return cpuSeconds * 1000 / float64(cycles)
}

// receiver is the merchant's notification endpoint: it answers 200 at
// once, counts what it got, and hands each order's outcome to the sale
// waiting for it.
type receiver struct {
	url   string
	srv   *http.Server
	count atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan string // trade_id -> the sale waiting for its outcome
	early   map[string]string      // outcomes that arrived before their sale waited
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/notify", waiting: map[string]chan string{}, early: map[string]string{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var n struct {
			Data struct {
				Type    string `json:"type"`
				TradeID string `json:"trade_id"`
				State   string `json:"state"`
			} `json:"data"`
		}
		json.NewDecoder(req.Body).Decode(&n)
		r.count.Add(1)
		if n.Data.Type == "payment" {
			r.deliver(n.Data.TradeID, n.Data.State)
		}
		io.WriteString(w, "success")
	})}
	go r.srv.Serve(ln)
	return r, nil
}

// deliver hands a sale's outcome to its waiter, or keeps it until the
// sale waits. A reversal's "cancelled" comes after its sale was settled
// and nobody waits for it: it is not kept.
func (r *receiver) deliver(tradeID, state string) {
	if state == "processing" || state == "pending" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiting[tradeID]; ok {
		delete(r.waiting, tradeID)
		ch <- state
		return
	}
	if state != "cancelled" {
		r.early[tradeID] = state
	}
}

// await waits up to limit for the outcome of order tradeID; "" when none
// came.
func (r *receiver) await(ctx context.Context, tradeID string, limit time.Duration) string {
	r.mu.Lock()
	if state, ok := r.early[tradeID]; ok {
		delete(r.early, tradeID)
		r.mu.Unlock()
		return state
	}
	ch := make(chan string, 1)
	r.waiting[tradeID] = ch
	r.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case state := <-ch:
		return state
	case <-t.C:
	case <-ctx.Done():
	}
	r.mu.Lock()
	delete(r.waiting, tradeID)
	r.mu.Unlock()
	select {
	case state := <-ch: // delivered while giving up
		return state
	default:
		return ""
	}
}

func (r *receiver) close() { r.srv.Close() }

// connectTerminals connects n simulated terminals that answer at once and
// returns once the gateway has welcomed every one. At most 64 connect at a
// time, as a fleet coming online would.
func connectTerminals(ctx context.Context, url string, n int) (stop func(), err error) {
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	quiet := slog.New(slog.DiscardHandler)
	connecting := make(chan struct{}, 64)
	var online sync.WaitGroup
	timeout := time.After(time.Duration(n)*20*time.Millisecond + 30*time.Second)
	for i := range n {
		select {
		case connecting <- struct{}{}:
		case <-timeout:
			stop()
			return nil, errors.New("not every simulated terminal connected in time")
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
		t, err := simterm.New(simterm.Config{Server: url, TID: tid(i), Secret: secretOf(tid(i)), AutoTap: true, CardDelay: time.Nanosecond, Logger: quiet})
		if err != nil {
			stop()
			return nil, err
		}
		screens, unsubscribe := t.Subscribe()
		online.Add(1)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for s := range screens {
				if s.Online {
					<-connecting
					online.Done()
					unsubscribe()
				}
			}
		}()
		go func() { defer wg.Done(); t.Run(tctx); unsubscribe() }()
	}
	welcomed := make(chan struct{})
	go func() { online.Wait(); close(welcomed) }()
	select {
	case <-welcomed:
		return stop, nil
	case <-timeout:
	case <-ctx.Done():
	}
	stop()
	return nil, errors.New("not every simulated terminal connected in time")
}

// result is what the clients of one target measured.
type result struct {
	elapsed time.Duration
	cycles  int64
	samples map[string][]float64 // method -> latencies in ms
	errors  map[string]int64
}

func (r *result) fill(rep *Report) {
	rep.DurationSeconds = r.elapsed.Seconds()
	rep.Cycles = r.cycles
	rep.CyclesPerSecond = float64(r.cycles) / r.elapsed.Seconds()
	rep.ErrorsByCode = r.errors
	rep.LatencyMS = map[string]Latency{}
	for m, s := range r.samples {
		slices.Sort(s)
		at := func(p float64) float64 { return s[int(float64(len(s)-1)*p)] }
		rep.LatencyMS[m] = Latency{Count: int64(len(s)), P50: at(.5), P95: at(.95), P99: at(.99), Max: s[len(s)-1]}
	}
}

// worker is one merchant client bound to one terminal.
type worker struct {
	c         *sdk.Client
	tid       string
	notifyURL string
	receiver  *receiver // nil: poll v3.QueryOrder until paid
	samples   map[string][]float64
	errors    map[string]int64
	seq       int
}

func (w *worker) call(ctx context.Context, method string, data map[string]string) (*sdk.Response, bool) {
	t0 := time.Now()
	r, err := w.c.Call(ctx, method, data)
	if err != nil {
		if ctx.Err() == nil {
			w.errors["transport"]++
		}
		return nil, false
	}
	w.samples[method] = append(w.samples[method], float64(time.Since(t0).Microseconds())/1000)
	if !r.Status {
		w.errors[string(r.Code)]++
		return r, false
	}
	return r, true
}

// notificationWait bounds how long a sale waits for its notification
// before it asks v3.QueryOrder (and counts a "no_notification" error).
const notificationWait = 10 * time.Second

// sale starts a sale and waits until it is paid: for its notification, or
// polling v3.QueryOrder as a till without a back end would.
func (w *worker) sale(ctx context.Context) (string, bool) {
	w.seq++
	r, ok := w.call(ctx, "v3.POS", map[string]string{
		"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": w.tid,
		"order_id": fmt.Sprint(time.Now().UnixNano()%1e15*10 + int64(w.seq%10)), "amount": "12.50", "currency": "EUR",
		"description": "posgate bench", "notify_url": w.notifyURL, "request_id": sdk.NewRequestID(),
	})
	if !ok {
		return "", false
	}
	var o struct {
		TradeID string `json:"trade_id"`
	}
	json.Unmarshal(r.Data, &o)
	if w.receiver != nil {
		switch state := w.receiver.await(ctx, o.TradeID, notificationWait); state {
		case "paid":
			return o.TradeID, true
		case "":
			if ctx.Err() != nil {
				return "", false
			}
			w.errors["no_notification"]++ // then poll
		default:
			w.errors["sale_"+state]++
			return "", false
		}
	}
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 20*time.Millisecond) {
		r, ok := w.call(ctx, "v3.QueryOrder", map[string]string{"trade_id": o.TradeID})
		if !ok {
			return "", false
		}
		var q struct {
			TransactionInfo struct {
				State string `json:"state"`
			} `json:"transaction_info"`
		}
		json.Unmarshal(r.Data, &q)
		switch q.TransactionInfo.State {
		case "paid":
			return o.TradeID, true
		case "processing", "pending":
		default:
			w.errors["sale_"+q.TransactionInfo.State]++
			return "", false
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-time.After(backoff):
		}
	}
}

// drive runs the scenario's cycles from cfg.Concurrency clients for
// cfg.Duration against url.
func drive(ctx context.Context, cfg Config, url, label string) (*result, error) {
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		t := tid(i % cfg.Terminals)
		workers[i] = &worker{c: sdk.New(url, t, secretOf(t)), tid: t, notifyURL: cfg.notifyURL, samples: map[string][]float64{}, errors: map[string]int64{}}
		if cfg.Wait == WaitNotification {
			workers[i].receiver = cfg.receiver
		}
	}
	paid := make([]string, len(workers))
	if cfg.Scenario == ScenarioQuery {
		for i, w := range workers {
			id, ok := w.sale(ctx)
			if !ok {
				return nil, fmt.Errorf("%s: could not make the order to query: %v", label, w.errors)
			}
			paid[i] = id
			w.samples, w.errors = map[string][]float64{}, map[string]int64{}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var cycles atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dctx.Err() == nil {
				ok := false
				switch cfg.Scenario {
				case ScenarioQuery:
					_, ok = w.call(dctx, "v3.QueryOrder", map[string]string{"trade_id": paid[i]})
				case ScenarioSale:
					_, ok = w.sale(dctx)
				case ScenarioReversal:
					var id string
					if id, ok = w.sale(dctx); ok {
						_, ok = w.call(dctx, "v3.POSReversal", map[string]string{"tid": w.tid, "trade_id": id, "request_id": sdk.NewRequestID()})
					}
				}
				if ok {
					cycles.Add(1)
				}
			}
		}()
	}
	progressDone := make(chan struct{})
	go progress(cfg.Progress, cfg.ProgressLive, label, start, cfg.Duration, &cycles, dctx, progressDone)
	wg.Wait()
	elapsed := time.Since(start)
	<-progressDone
	res := &result{elapsed: elapsed, cycles: cycles.Load(), samples: map[string][]float64{}, errors: map[string]int64{}}
	for _, w := range workers {
		for m, s := range w.samples {
			res.samples[m] = append(res.samples[m], s...)
		}
		for c, n := range w.errors {
			res.errors[c] += n
		}
	}
	return res, nil
}

// progress reports the cycles so far each second until ctx ends: on a
// terminal (live) by redrawing one line, elsewhere (a log, a pipe) one
// line per second, so a captured output is readable.
func progress(w io.Writer, live bool, label string, start time.Time, total time.Duration, cycles *atomic.Int64, ctx context.Context, done chan<- struct{}) {
	defer close(done)
	if w == nil {
		<-ctx.Done()
		return
	}
	line := func(el time.Duration) string {
		return fmt.Sprintf("%-9s %5.1fs/%v  cycles %-8d %8.1f/s", label, el.Seconds(), total, cycles.Load(), float64(cycles.Load())/el.Seconds())
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if live {
				fmt.Fprintf(w, "\r%s\n", line(time.Since(start)))
			} else {
				fmt.Fprintln(w, line(time.Since(start)))
			}
			return
		case <-tick.C:
			if live {
				fmt.Fprintf(w, "\r%s", line(time.Since(start)))
			} else {
				fmt.Fprintln(w, line(time.Since(start)))
			}
		}
	}
}
