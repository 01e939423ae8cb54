package clustertest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/posgate/posgate/internal/bintest"
	"github.com/posgate/posgate/internal/pgtest"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termproto"
)

const (
	masterKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	adminToken = "clustertest-admin"
	merchant   = "Shop"
	// Fast cluster timings: a dead node's terminals read as offline a
	// second after its last heartbeat.
	nodeHeartbeat  = 200 * time.Millisecond
	nodeStaleAfter = time.Second
	reversalWait   = 8 * time.Second
	// noCard is the simulator's amount for a customer who never taps: the
	// sale waits on screen until it is cancelled (docs/simulator.md).
	noCard = "1.07"
)

var gatewayEnv = []string{"POSGATE_MASTER_KEY=" + masterKey, "POSGATE_ADMIN_TOKEN=" + adminToken}

// natsSrv is an embedded NATS server the test can stop and start again on
// the same port.
type natsSrv struct {
	t    testing.TB
	port int
	s    *natsserver.Server
}

func startNATS(t testing.TB) *natsSrv {
	n := &natsSrv{t: t, port: -1}
	n.start()
	n.port = n.s.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() {
		if n.s != nil {
			n.s.Shutdown()
		}
	})
	return n
}

func (n *natsSrv) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsSrv) start() {
	n.t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("NATS not ready")
	}
	n.s = s
}

func (n *natsSrv) stop() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
	n.s = nil
}

// clientCount is how many NATS clients are connected (the nodes).
func (n *natsSrv) clientCount() int {
	if n.s == nil {
		return 0
	}
	return n.s.NumClients()
}

// node is one `posgate serve` of the cluster on a fixed address, which a
// test kills, stops and starts again.
type node struct {
	c    *cluster
	id   string
	addr string
	URL  string
	p    *bintest.Proc
	all  []*bintest.Proc
}

func (n *node) address() string { return n.addr }

func (n *node) start() {
	c := n.c
	c.t.Helper()
	args := []string{"serve", "--acquirer", "simulated", "--addr", n.addr, "--db", c.dsn,
		"--cluster", c.nats.URL(), "--node-id", n.id,
		"--cluster-heartbeat", nodeHeartbeat.String(), "--cluster-stale-after", c.opts.staleAfter.String(),
		"--heartbeat", c.opts.termHeartbeat.String(), "--reversal-wait", reversalWait.String(), "--display-wait", "8s", "--sale-timeout", "60s",
		"--allow-private-notify", "--log-level", "warn", "--drain-grace", "10s", "--drain-spread", "1s",
		// Every terminal and till is on loopback: one source address.
		"--rate-user", "1e9", "--rate-user-burst", "1e9", "--rate-addr", "1e9", "--rate-addr-burst", "1e9",
		"--rate-hello", "1e9", "--rate-hello-burst", "1e9",
		// The scripts run a terminal through commands faster than a
		// customer: its progress frames must not be dropped as a flood.
		"--rate-progress", "1e9", "--rate-progress-burst", "1e9"}
	if !c.opts.acceptLimit {
		args = append(args, "--rate-accept", "1e9", "--rate-accept-burst", "1e9")
	}
	n.p = bintest.Start(c.t, bin, gatewayEnv, args...)
	n.all = append(n.all, n.p)
	if !poll(30*time.Second, func() bool {
		select {
		case <-n.p.Done():
			return true
		default:
		}
		resp, err := http.Get(n.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) || n.p.Exited(0) {
		c.t.Fatalf("node %s not healthy:\n%s", n.id, n.p.Output())
	}
}

// kill is kill -9.
func (n *node) kill() { n.p.Kill() }

// stop is SIGTERM, waited for.
func (n *node) stop() {
	n.c.t.Helper()
	n.p.Signal(syscall.SIGTERM)
	if !n.p.Exited(30 * time.Second) {
		n.c.t.Fatalf("node %s still running 30s after SIGTERM", n.id)
	}
}

type options struct {
	staleAfter    time.Duration
	poolConns     int
	termHeartbeat time.Duration // how often terminals heartbeat (1 s)
	// acceptLimit keeps each node's default limit on new terminal
	// connections (a reconnect storm's bound); tests lift it otherwise.
	acceptLimit bool
}

// cluster is a PostgreSQL schema, a NATS server, nodes on them, the
// terminals provisioned there and what their acquirers did.
type cluster struct {
	t     testing.TB
	opts  options
	dsn   string
	nats  *natsSrv
	nodes []*node
	db    *pgxpool.Pool
	app   *server.App
	rcv   *receiver
	acq   *acquirerLog

	mu      sync.Mutex
	secrets map[string]string
}

func newCluster(t testing.TB, nodes int, opts ...func(*options)) *cluster {
	t.Helper()
	o := options{staleAfter: nodeStaleAfter, poolConns: 8, termHeartbeat: time.Second}
	for _, f := range opts {
		f(&o)
	}
	dsn := pgtest.SchemaDSN(t, "clustertest", fmt.Sprintf("pool_max_conns=%d", o.poolConns))
	c := &cluster{t: t, opts: o, dsn: dsn, secrets: map[string]string{}, acq: newAcquirerLog()}
	ctx := context.Background()
	// Migrates the schema once, before the nodes start, and provisions.
	app, err := server.OpenApp(ctx, server.Config{DB: dsn, Getenv: func(k string) string {
		if k == "POSGATE_MASTER_KEY" {
			return masterKey
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.app = app
	t.Cleanup(func() { app.Close() })
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	c.db = db
	t.Cleanup(db.Close)
	c.rcv = newReceiver(t, c.secret)
	c.nats = startNATS(t)
	for i := range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		n := &node{c: c, id: fmt.Sprintf("n%d", i), addr: addr, URL: "http://" + addr}
		c.nodes = append(c.nodes, n)
	}
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(n.start)
	}
	wg.Wait()
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				for i, p := range n.all {
					t.Logf("node %s, process %d:\n%s", n.id, i+1, p.Output())
				}
			}
		}
	})
	return c
}

// provision adds terminals (all of merchant Shop).
func (c *cluster) provision(tids ...string) {
	c.t.Helper()
	for _, tid := range tids {
		if err := c.add(tid); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *cluster) add(tid string) error {
	b := make([]byte, 32)
	copy(b, tid)
	secret := hex.EncodeToString(b)
	if _, err := payment.AddTerminal(context.Background(), c.app.Store, c.app.Sealer,
		payment.NewTerminal{Merchant: merchant, TID: tid, Secret: secret}, time.Now()); err != nil {
		return fmt.Errorf("add terminal %s: %w", tid, err)
	}
	c.mu.Lock()
	c.secrets[tid] = secret
	c.mu.Unlock()
	return nil
}

// provisionParallel adds many terminals with workers at once.
func (c *cluster) provisionParallel(tids []string, workers int) {
	c.t.Helper()
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for tid := range next {
				if err := c.add(tid); err != nil {
					c.t.Error(err)
				}
			}
		})
	}
	for _, tid := range tids {
		next <- tid
	}
	close(next)
	wg.Wait()
}

func (c *cluster) secret(tid string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.secrets[tid]
	return s, ok
}

// servers is the terminal's --server list: home first, then the other
// nodes in turn (simterm moves to the next each time its link ends).
func (c *cluster) servers(order ...int) string {
	var urls []string
	for _, i := range order {
		urls = append(urls, c.nodes[i].URL)
	}
	return strings.Join(urls, ",")
}

// failover is home first, then the other nodes in turn.
func (c *cluster) failover(home int) []int {
	order := []int{home}
	for i := 1; i < len(c.nodes); i++ {
		order = append(order, (home+i)%len(c.nodes))
	}
	return order
}

// term is an in-process simulated terminal.
type term struct {
	*simterm.Terminal
	tid    string
	cancel context.CancelFunc
	done   chan struct{}
}

type termOpt func(*simterm.Config)

func cardDelay(d time.Duration) termOpt { return func(c *simterm.Config) { c.CardDelay = d } }

// connect starts tid's terminal with every node in its server list, home
// first, and waits until its presence names home.
func (c *cluster) connect(tid string, home int, opts ...termOpt) *term {
	c.t.Helper()
	tm := c.start(tid, c.servers(c.failover(home)...), opts...)
	c.waitHolder(tid, c.nodes[home].id, 15*time.Second)
	return tm
}

func (c *cluster) start(tid, servers string, opts ...termOpt) *term {
	c.t.Helper()
	secret, _ := c.secret(tid)
	cfg := simterm.Config{Server: servers, TID: tid, Secret: secret, AutoTap: true, CardDelay: 20 * time.Millisecond,
		OnAcquirer: func(f termproto.Frame) { c.acq.record(tid, f) }}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := simterm.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &term{Terminal: st, tid: tid, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(tm.done); st.Run(ctx) }()
	c.t.Cleanup(func() { cancel(); <-tm.done })
	return tm
}

// holder is the node id tid's presence row names, or "".
func (c *cluster) holder(tid string) string {
	var node string
	c.db.QueryRow(context.Background(), `SELECT node_id FROM terminal_presence WHERE tid = $1`, tid).Scan(&node)
	return node
}

func (c *cluster) waitHolder(tid, nodeID string, d time.Duration) {
	c.t.Helper()
	if !poll(d, func() bool { return c.holder(tid) == nodeID }) {
		c.t.Fatalf("terminal %s held by %q, want %s within %s", tid, c.holder(tid), nodeID, d)
	}
}

// till is tid's merchant client on node i.
func (c *cluster) till(i int, tid string) *sdk.Client {
	secret, _ := c.secret(tid)
	return sdk.New(c.nodes[i].URL, tid, secret)
}

// acquirerLog is what every simulated terminal's acquirer did, across
// their reconnects: the truth a doubled command would show in.
type acquirerLog struct {
	mu      sync.Mutex
	byCmd   map[string]int            // command id → operations
	byTrade map[string]map[string]int // trade id → kind → operations
	total   atomic.Int64
}

func newAcquirerLog() *acquirerLog {
	return &acquirerLog{byCmd: map[string]int{}, byTrade: map[string]map[string]int{}}
}

func (a *acquirerLog) record(_ string, f termproto.Frame) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byCmd[f.ID]++
	if a.byTrade[f.TradeID] == nil {
		a.byTrade[f.TradeID] = map[string]int{}
	}
	a.byTrade[f.TradeID][f.Kind]++
	a.total.Add(1)
}

func (a *acquirerLog) ops(tradeID, kind string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byTrade[tradeID][kind]
}

// doubled lists the commands the acquirers performed more than once.
func (a *acquirerLog) doubled() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for id, n := range a.byCmd {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s x%d", id, n))
		}
	}
	return out
}

var orderSeq atomic.Int64

func newRequestID() string { return sdk.NewRequestID() }

func saleData(tid, amount, notifyURL string) map[string]string {
	return map[string]string{
		"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": tid,
		"order_id": fmt.Sprintf("2026%014d", orderSeq.Add(1)), "amount": amount, "currency": "EUR",
		"description": "cluster test", "notify_url": notifyURL, "request_id": sdk.NewRequestID(),
	}
}

type order struct {
	TradeID string `json:"trade_id"`
	State   string `json:"state"`
}

func orderOf(r *sdk.Response) order {
	var o order
	json.Unmarshal(r.Data, &o)
	return o
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// state is the order's state as v3.QueryOrder on node i shows it.
func (c *cluster) state(i int, tid, tradeID string) string {
	r, err := c.till(i, tid).Call(ctxFor(c.t, 10*time.Second), "v3.QueryOrder", map[string]string{"trade_id": tradeID})
	if err != nil {
		return "query failed: " + err.Error()
	}
	if !r.Status {
		return "query " + string(r.Code)
	}
	var q struct {
		TransactionInfo order `json:"transaction_info"`
	}
	json.Unmarshal(r.Data, &q)
	return q.TransactionInfo.State
}

func (c *cluster) waitState(i int, tid, tradeID, want string, d time.Duration) {
	c.t.Helper()
	if !poll(d, func() bool { return c.state(i, tid, tradeID) == want }) {
		c.t.Fatalf("order %s is %s on %s, want %s", tradeID, c.state(i, tid, tradeID), c.nodes[i].id, want)
	}
}

// paidSale is a sale called on node i, approved by the terminal.
func (c *cluster) paidSale(i int, tid string) string {
	c.t.Helper()
	r, err := c.till(i, tid).Call(ctxFor(c.t, 30*time.Second), "v3.POS", saleData(tid, "12.50", c.rcv.URL))
	if err != nil || !r.Status {
		c.t.Fatalf("v3.POS on %s: %v %v", c.nodes[i].id, err, r)
	}
	o := orderOf(r)
	c.waitState(i, tid, o.TradeID, "paid", 20*time.Second)
	return o.TradeID
}

// count runs a count(*) query.
func (c *cluster) count(query string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		c.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// nothingInFlight reports whether every command, reversal and order has
// settled in the database.
func (c *cluster) nothingInFlight() bool {
	return c.count(`SELECT count(*) FROM commands WHERE state = 'in_flight'`) == 0 &&
		c.count(`SELECT count(*) FROM reversals WHERE state = 'in_flight'`) == 0 &&
		c.count(`SELECT count(*) FROM orders WHERE state IN ('processing', 'pending')`) == 0
}

func (c *cluster) undelivered() int {
	return c.count(`SELECT count(*) FROM notifications WHERE delivered_at IS NULL`)
}

// describe is a response as a line for transcripts and failures.
func describe(r *sdk.Response, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s %s state=%s", r.Code, strings.TrimSpace(r.Message), orderOf(r).State)
}
