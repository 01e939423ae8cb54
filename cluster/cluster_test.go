package cluster_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/cluster"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/internal/pgtest"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termproto"
)

func schemaDSN(t testing.TB) string { return pgtest.SchemaDSN(t, "cluster") }

// natsServer runs an embedded NATS server on port (-1: any free port).
func natsServer(t testing.TB, port int) *natsserver.Server {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(5*time.Second), "NATS not ready")
	t.Cleanup(s.Shutdown)
	return s
}

const masterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Fast cluster timings: a node is stale after a second.
const (
	heartbeat  = 200 * time.Millisecond
	staleAfter = time.Second
)

type node struct {
	t    testing.TB
	URL  string
	G    *server.Gateway
	stop func() // ends Serve and waits for it
}

func startNode(t testing.TB, dsn, natsURL, id string) *node {
	t.Helper()
	return startNodeWith(t, dsn, natsURL, id, nil)
}

// startNodeWith starts a node whose configuration adjust may change.
func startNodeWith(t testing.TB, dsn, natsURL, id string, adjust func(*server.Config)) *node {
	t.Helper()
	cfg := server.Config{
		DB:                dsn,
		HeartbeatInterval: time.Second,
		ReversalWait:      8 * time.Second,
		DisplayWait:       8 * time.Second,
		AbortWait:         3 * time.Second,
		RateLimits:        httpapi.RateLimits{PerUser: 1e9, PerUserBurst: 1e9, PerAddr: 1e9, PerAddrBurst: 1e9, AuthFailures: 1e9, AuthFailuresBurst: 1e9},
		Getenv: func(k string) string {
			switch k {
			case "POSGATE_MASTER_KEY":
				return masterKey
			case server.EnvAdminToken:
				return "test-admin-token"
			}
			return ""
		},
		Cluster: cluster.Config{NATS: natsURL, NodeID: id, Heartbeat: heartbeat, StaleAfter: staleAfter,
			Sweep: 300 * time.Millisecond, WaitPoll: 200 * time.Millisecond},
	}
	if adjust != nil {
		adjust(&cfg)
	}
	g, err := server.Open(context.Background(), cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, "", "") }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return &node{t: t, URL: "http://" + ln.Addr().String(), G: g, stop: stop}
}

func (n *node) addTerminal(merchant, tid string) string {
	n.t.Helper()
	b := make([]byte, 32)
	copy(b, tid)
	secret := hex.EncodeToString(b)
	_, err := payment.AddTerminal(context.Background(), n.G.Store, n.G.Sealer, payment.NewTerminal{Merchant: merchant, TID: tid, Secret: secret}, time.Now())
	require.NoError(n.t, err)
	return secret
}

// terminal is a simulated terminal connected to one node.
type terminal struct {
	*simterm.Terminal
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err
	err    error
}

// connect starts a simulated terminal on n; acquirer counts the
// operations it performs.
func connect(t *testing.T, n *node, tid, secret string, acquirer *atomic.Int64) *terminal {
	t.Helper()
	term, err := simterm.New(simterm.Config{Server: n.URL, TID: tid, Secret: secret, AutoTap: true, CardDelay: 5 * time.Millisecond,
		OnAcquirer: func(termproto.Frame) { acquirer.Add(1) }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tm := &terminal{Terminal: term, cancel: cancel, done: make(chan struct{})}
	go func() { tm.err = term.Run(ctx); close(tm.done) }()
	t.Cleanup(tm.stop)
	waitFor(t, 10*time.Second, func() bool { return n.G.Hub.Online(tid) }, "terminal %s online on its node", tid)
	return tm
}

func (tm *terminal) stop() {
	tm.cancel()
	select {
	case <-tm.done:
	case <-time.After(15 * time.Second):
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: "+format, append([]any{d}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var seq atomic.Int64

func saleData(tid string) map[string]string {
	return map[string]string{
		"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": tid,
		"order_id": fmt.Sprintf("2025%014d", seq.Add(1)), "amount": "12.50", "currency": "EUR",
		"description": "cluster test", "notify_url": "https://merchant.example/notify", "request_id": sdk.NewRequestID(),
	}
}

func call(t *testing.T, c *sdk.Client, method string, data map[string]string) *sdk.Response {
	t.Helper()
	r, err := c.Call(context.Background(), method, data)
	require.NoError(t, err)
	return r
}

type order struct {
	TradeID       string `json:"trade_id"`
	State         string `json:"state"`
	TransactionID string `json:"transaction_id"`
}

func orderOf(t *testing.T, r *sdk.Response) order {
	t.Helper()
	var o order
	require.NoError(t, json.Unmarshal(r.Data, &o), "data: %s", r.Data)
	return o
}

func query(t *testing.T, c *sdk.Client, tradeID string) order {
	t.Helper()
	r := call(t, c, "v3.QueryOrder", map[string]string{"trade_id": tradeID})
	require.True(t, r.Status, "query: %s %s", r.Code, r.Message)
	var q struct {
		TransactionInfo order `json:"transaction_info"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &q))
	return q.TransactionInfo
}

func waitState(t *testing.T, c *sdk.Client, tradeID, state string) order {
	t.Helper()
	var o order
	waitFor(t, 15*time.Second, func() bool { o = query(t, c, tradeID); return o.State == state }, "order %s %s", tradeID, state)
	return o
}

// saleAndReversal runs a sale and its reversal through till (a node that
// does not hold the terminal) and checks that every node agrees.
func saleAndReversal(t *testing.T, till *sdk.Client, others []*sdk.Client, tid string, doorbells bool) {
	t.Helper()
	r := call(t, till, "v3.POS", saleData(tid))
	require.True(t, r.Status, "v3.POS: %s %s", r.Code, r.Message)
	sale := orderOf(t, r)
	// Processing: the terminal shows the amount. Without doorbells the
	// database re-read may find the sale already paid.
	if doorbells {
		require.Equal(t, "processing", sale.State)
	} else {
		require.Contains(t, []string{"processing", "paid"}, sale.State)
	}
	paid := waitState(t, till, sale.TradeID, "paid")
	for _, c := range others {
		require.Equal(t, paid, query(t, c, sale.TradeID), "QueryOrder agrees across nodes")
	}

	r = call(t, till, "v3.POSReversal", map[string]string{"tid": tid, "trade_id": sale.TradeID, "request_id": sdk.NewRequestID()})
	require.True(t, r.Status, "v3.POSReversal: %s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	cancelled := query(t, till, sale.TradeID)
	require.Equal(t, "cancelled", cancelled.State)
	for _, c := range others {
		require.Equal(t, cancelled, query(t, c, sale.TradeID), "QueryOrder agrees across nodes")
	}
}

// TestRoutedSaleReversalAndNodeDeath: a terminal on node A, a sale and a
// reversal called on node B; A dies and B sees the terminal offline
// within the stale bound; the terminal reconnects to B and is online at
// once.
func TestRoutedSaleReversalAndNodeDeath(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	secret := a.addTerminal("Shop", "T1")
	var ops atomic.Int64
	termA := connect(t, a, "T1", secret, &ops)
	// A claims the terminal's presence row right after the welcome, in
	// the same step that re-sends its command in flight, so B sees it
	// moments after A's hub does.
	require.Eventually(t, func() bool { return b.G.Cluster.Online("T1") }, 5*time.Second, 5*time.Millisecond, "B sees the terminal on A")
	require.False(t, b.G.Hub.Online("T1"))

	tillB := sdk.New(b.URL, "T1", secret)
	tillA := sdk.New(a.URL, "T1", secret)
	began := time.Now()
	saleAndReversal(t, tillA, []*sdk.Client{tillB}, "T1", true)
	t.Logf("sale + reversal on A, terminal on A: %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	saleAndReversal(t, tillB, []*sdk.Client{tillA}, "T1", true)
	t.Logf("routed sale + reversal on B, terminal on A: %s", time.Since(began).Round(time.Millisecond))
	require.EqualValues(t, 4, ops.Load(), "the terminal performed two sales and two reversals, none twice")

	// A dies: no heartbeat, no goodbye; its presence row stays behind.
	a.G.Cluster.Halt()
	died := time.Now()
	a.stop()
	termA.stop()
	require.True(t, b.G.Cluster.Online("T1") || time.Since(died) > staleAfter, "a dead node's terminals stay online until its heartbeat is stale")
	waitFor(t, staleAfter+2*heartbeat+time.Second, func() bool { return !b.G.Cluster.Online("T1") }, "T1 offline on B")
	offline := time.Since(died)
	t.Logf("T1 offline on B %s after A died (stale bound %s)", offline.Round(time.Millisecond), staleAfter)
	require.LessOrEqual(t, offline, staleAfter+2*heartbeat+500*time.Millisecond)

	r := call(t, tillB, "v3.POS", saleData("T1"))
	require.False(t, r.Status)
	require.Equal(t, "-4201", string(r.Code), "offline: %s", r.Message)

	connect(t, b, "T1", secret, &ops)
	require.True(t, b.G.Cluster.Online("T1"), "online on B as soon as it reconnects there")
	r = call(t, tillB, "v3.POS", saleData("T1"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	waitState(t, tillB, orderOf(t, r).TradeID, "paid")
}

// TestReplacedAcrossNodes: a terminal connecting to B while A holds it
// closes A's connection with CloseReplaced; commands then go to B.
func TestReplacedAcrossNodes(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	secret := a.addTerminal("Shop", "T1")
	var ops atomic.Int64
	old := connect(t, a, "T1", secret, &ops)
	connect(t, b, "T1", secret, &ops)
	select {
	case <-old.done:
		require.ErrorIs(t, old.err, simterm.ErrReplaced)
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on A was not closed")
	}
	require.False(t, a.G.Hub.Online("T1"))
	require.True(t, a.G.Cluster.Online("T1"), "A routes to B")
	saleAndReversal(t, sdk.New(a.URL, "T1", secret), []*sdk.Client{sdk.New(b.URL, "T1", secret)}, "T1", true)
	require.EqualValues(t, 2, ops.Load())
}

// TestLostDoorbells: with NATS down every doorbell is lost; the sale and
// the reversal called on B still complete, through A's sweep and B's
// re-reads of the database. NATS then comes back on the same port and
// the doorbells work again.
func TestLostDoorbells(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	secret := a.addTerminal("Shop", "T1")
	var ops atomic.Int64
	connect(t, a, "T1", secret, &ops)
	tillB := sdk.New(b.URL, "T1", secret)
	others := []*sdk.Client{sdk.New(a.URL, "T1", secret)}

	ns.Shutdown()
	ns.WaitForShutdown()
	began := time.Now()
	saleAndReversal(t, tillB, others, "T1", false)
	t.Logf("sale + reversal with NATS down: %s", time.Since(began).Round(time.Millisecond))
	require.EqualValues(t, 2, ops.Load(), "nothing doubled by the sweeps")

	ns2 := natsServer(t, port)
	waitFor(t, 10*time.Second, func() bool { return ns2.NumClients() >= 2 }, "nodes reconnected to NATS")
	began = time.Now()
	saleAndReversal(t, tillB, others, "T1", true)
	t.Logf("sale + reversal after NATS came back: %s", time.Since(began).Round(time.Millisecond))
	require.EqualValues(t, 4, ops.Load())
}

// TestSQLiteRefused: the cluster mode says it needs PostgreSQL.
func TestSQLiteRefused(t *testing.T) {
	_, err := server.Open(context.Background(), server.Config{
		DB:      t.TempDir() + "/posgate.db",
		Getenv:  func(string) string { return "" },
		Cluster: cluster.Config{NATS: "nats://127.0.0.1:1"},
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "PostgreSQL")
	require.False(t, errors.Is(err, context.Canceled))
}

// TestReplacedWithoutNATS: the "replaced" doorbell is lost (NATS is
// down); A's sweep finds the presence row taken by B and closes its
// connection all the same.
func TestReplacedWithoutNATS(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	secret := a.addTerminal("Shop", "T1")
	var ops atomic.Int64
	old := connect(t, a, "T1", secret, &ops)
	ns.Shutdown()
	ns.WaitForShutdown()
	connect(t, b, "T1", secret, &ops)
	select {
	case <-old.done:
		require.ErrorIs(t, old.err, simterm.ErrReplaced)
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on A was not closed by the sweep")
	}
	require.False(t, a.G.Hub.Online("T1"))
	require.True(t, a.G.Cluster.Online("T1"), "A sees T1 on B")
}

type adminTerminal struct {
	TID    string `json:"tid"`
	Online bool   `json:"online"`
	Node   string `json:"node"`
}

func adminTerminals(t *testing.T, n *node) map[string]adminTerminal {
	t.Helper()
	var list struct {
		Terminals []adminTerminal `json:"terminals"`
	}
	adminGet(t, n.URL+"/admin/v1/terminals", &list)
	out := map[string]adminTerminal{}
	for _, v := range list.Terminals {
		out[v.TID] = v
	}
	return out
}

func adminGet(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// consolePage logs in to n's console with the admin token and returns
// the page at path.
func consolePage(t *testing.T, n *node, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) string {
		resp, err := c.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get(n.URL + "/console/login"))
	require.NotNil(t, m)
	resp, err := c.PostForm(n.URL+"/console/login", url.Values{"csrf": {m[1]}, "token": {"test-admin-token"}, "next": {"/console/"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	return get(n.URL + path)
}

// TestAdminTerminalsAcrossNodes: the operator API and the console show every terminal of
// the cluster with the node holding it, whichever node is asked; a dead
// node's terminals read offline everywhere within the stale bound.
func TestAdminTerminalsAcrossNodes(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	var ops atomic.Int64
	s1, s2 := a.addTerminal("Shop", "T1"), a.addTerminal("Shop", "T2")
	a.addTerminal("Shop", "T3")
	connect(t, a, "T1", s1, &ops)
	connect(t, b, "T2", s2, &ops)
	want := map[string]adminTerminal{
		"T1": {TID: "T1", Online: true, Node: "a"},
		"T2": {TID: "T2", Online: true, Node: "b"},
		"T3": {TID: "T3"},
	}
	for _, n := range []*node{a, b} {
		require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, adminTerminals(t, n)) }, 5*time.Second, 10*time.Millisecond,
			"node %s: %v", n.G.Cluster.ID(), adminTerminals(t, n))
		var one adminTerminal
		adminGet(t, n.URL+"/admin/v1/terminals/T1", &one)
		require.Equal(t, want["T1"], one)
		page := consolePage(t, n, "/console/")
		require.Contains(t, page, "online on a", "the console shows the node holding T1")
		require.Contains(t, page, "online on b", "and T2's")
	}

	a.G.Cluster.Halt()
	a.stop()
	want["T1"] = adminTerminal{TID: "T1"}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, adminTerminals(t, b)) }, staleAfter+2*time.Second, 10*time.Millisecond,
		"a dead node's terminal reads offline")
}

// TestDrainMovesTerminals: node A drains (its Serve ends) while a
// reversal called on B waits for A's terminal. The reversal is answered
// with its result, the terminal (given both nodes) is told to reconnect
// and comes back on B, and A's presence is gone.
func TestDrainMovesTerminals(t *testing.T) {
	dsn := schemaDSN(t)
	ns := natsServer(t, -1)
	a := startNode(t, dsn, ns.ClientURL(), "a")
	b := startNode(t, dsn, ns.ClientURL(), "b")
	secret := a.addTerminal("Shop", "T1")
	var ops atomic.Int64
	term, err := simterm.New(simterm.Config{Server: a.URL + "," + b.URL, TID: "T1", Secret: secret, AutoTap: true, CardDelay: 5 * time.Millisecond,
		OnAcquirer: func(termproto.Frame) { ops.Add(1) }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- term.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 10*time.Second, func() bool { return a.G.Hub.Online("T1") && b.G.Cluster.Online("T1") }, "T1 on A, seen by B")

	tillB := sdk.New(b.URL, "T1", secret)
	r := call(t, tillB, "v3.POS", saleData("T1"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	tradeID := orderOf(t, r).TradeID
	waitState(t, tillB, tradeID, "paid")

	term.SetFaults(simterm.Faults{ResultDelay: time.Second})
	answer := make(chan *sdk.Response, 1)
	go func() {
		r, _ := tillB.Call(context.Background(), "v3.POSReversal", map[string]string{"tid": "T1", "trade_id": tradeID, "request_id": sdk.NewRequestID()})
		answer <- r
	}()
	waitFor(t, 10*time.Second, func() bool {
		return term.Current().Name == simterm.ScreenReversalProcessing || term.Current().Name == simterm.ScreenReversalApproved
	},
		"the reversal on the terminal")
	a.stop() // drains: the terminal's result still reaches the database through A
	r = <-answer
	require.NotNil(t, r)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	waitFor(t, 10*time.Second, func() bool { return b.G.Hub.Online("T1") }, "T1 reconnected to B")
	require.EqualValues(t, 2, ops.Load(), "one sale, one reversal")
	var rows int
	require.NoError(t, b.G.Store.(interface {
		Pool() *pgxpool.Pool
	}).Pool().QueryRow(context.Background(), `SELECT count(*) FROM terminal_presence WHERE node_id = 'a'`).Scan(&rows))
	require.Zero(t, rows, "A released its presence")
}
