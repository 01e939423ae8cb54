package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/posgate/posgate"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/sqlite"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
	"github.com/stretchr/testify/require"
)

// clock is real time shifted by an offset the test sets: time still
// passes, so timeouts work, but "now" can be any day and hour.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = time.Until(t)
}

var unlimited = termlink.Rate{PerSecond: 1e9, Burst: 1e9}

const masterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// gateway is a running posgate for one test.
type gateway struct {
	t     testing.TB
	URL   string
	G     *server.Gateway
	Clock *clock
	DB    string
}

// terminalIO is the gateways' terminal transport; empty, the server's
// default. CI runs the package once more with the poller for every
// terminal, which the default gives only past the first thousand.
var terminalIO = flag.String("e2e.terminal-io", "", "the gateways' --terminal-io (empty: the default)")

func start(t testing.TB, mods ...func(*server.Config)) *gateway {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{}
	cfg := server.Config{
		DB:                filepath.Join(dir, "posgate.db"),
		HeartbeatInterval: time.Second,
		ReversalWait:      5 * time.Second,
		DisplayWait:       5 * time.Second,
		AbortWait:         3 * time.Second,
		Now:               clk.Now,
		// Tests and benchmarks send from one address far faster than tills
		// do; the rate limit tests set their own.
		RateLimits: httpapi.RateLimits{PerUser: 1e9, PerUserBurst: 1e9, PerAddr: 1e9, PerAddrBurst: 1e9, AuthFailures: 1e9, AuthFailuresBurst: 1e9},
		Link:       server.LinkLimits{Hellos: unlimited, HelloFailures: unlimited, Accepts: unlimited, Progress: unlimited},
		Getenv: func(k string) string {
			switch k {
			case "POSGATE_MASTER_KEY":
				return masterKey
			case server.EnvAdminToken:
				return "test-admin-token"
			}
			return ""
		},
		TerminalIO: *terminalIO,
	}
	for _, m := range mods {
		m(&cfg)
	}
	g, err := server.Open(context.Background(), cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, "", "") }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	url := "http://" + ln.Addr().String()
	watchAPI(t, url)
	return &gateway{t: t, URL: url, G: g, Clock: clk, DB: cfg.DB}
}

// secretFor derives a fixed 32-byte secret from a name, so failures are
// reproducible.
func secretFor(name string) string {
	b := make([]byte, 32)
	copy(b, name)
	return hex.EncodeToString(b)
}

func (g *gateway) addTerminal(merchant, tid, tz string) string {
	g.t.Helper()
	secret := secretFor(tid)
	_, err := payment.AddTerminal(context.Background(), g.G.Store, g.G.Sealer, payment.NewTerminal{Merchant: merchant, TID: tid, Secret: secret, Timezone: tz}, g.Clock.Now())
	require.NoError(g.t, err)
	return secret
}

func (g *gateway) addCashier(merchant, uid string) string {
	g.t.Helper()
	secret := secretFor("cashier-" + uid)
	_, err := payment.AddCashier(context.Background(), g.G.Store, g.G.Sealer, payment.NewCashier{Merchant: merchant, UID: uid, Secret: secret}, g.Clock.Now())
	require.NoError(g.t, err)
	return secret
}

func (g *gateway) client(user, secret string) *sdk.Client {
	c := sdk.New(g.URL, user, secret)
	c.Now = g.Clock.Now
	return c
}

// connect starts a simulated terminal and returns once the gateway sees
// it online.
func (g *gateway) connect(tid, secret string, mods ...func(*simterm.Config)) *simterm.Terminal {
	g.t.Helper()
	cfg := simterm.Config{Server: g.URL, TID: tid, Secret: secret, AutoTap: true, CardDelay: 5 * time.Millisecond, Now: g.Clock.Now}
	for _, m := range mods {
		m(&cfg)
	}
	term, err := simterm.New(cfg)
	require.NoError(g.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- term.Run(ctx) }()
	g.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, simterm.ErrCrashed) {
			g.t.Errorf("terminal %s: %v", tid, err)
		}
	})
	g.waitOnline(tid, true)
	return term
}

// dialTerminal opens a raw WebSocket to the terminal endpoint, closed
// when the test ends, for tests that speak the protocol themselves.
func (g *gateway) dialTerminal(ctx context.Context) *websocket.Conn {
	g.t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+termproto.Path,
		&websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.NoError(g.t, err)
	g.t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// waitOnline waits until the gateway's view of tid is online (or not).
// The hub flips the flag before it answers the terminal, so this is a
// short wait on real state, not a guess at timing.
func (g *gateway) waitOnline(tid string, online bool) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.G.Hub.Online(tid) != online {
		if time.Now().After(deadline) {
			g.t.Fatalf("terminal %s online=%v not reached", tid, online)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// count returns the number of rows in each table that a refused request
// must not touch.
func (g *gateway) count() map[string]int {
	g.t.Helper()
	db := g.G.Store.(*sqlite.Store).DB()
	out := map[string]int{}
	for _, table := range []string{"orders", "requests", "commands", "reversals", "notifications"} {
		var n int
		require.NoError(g.t, db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
		out[table] = n
	}
	return out
}

func call(t *testing.T, c *sdk.Client, method string, data map[string]string) *sdk.Response {
	t.Helper()
	r, err := c.Call(context.Background(), method, data)
	require.NoError(t, err)
	return r
}

func orderOf(t *testing.T, r *sdk.Response) sdk.Order {
	t.Helper()
	var o sdk.Order
	require.NoError(t, json.Unmarshal(r.Data, &o), "data: %s", r.Data)
	return o
}

var orderSeq struct {
	sync.Mutex
	n int
}

func saleData(tid, amount string) map[string]string {
	orderSeq.Lock()
	orderSeq.n++
	n := orderSeq.n
	orderSeq.Unlock()
	return map[string]string{
		"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": tid,
		"order_id": fmt.Sprintf("2025%014d", n), "amount": amount, "currency": "EUR",
		"description": "YabandPay test", "notify_url": "https://merchant.example/notify",
		"request_id": sdk.NewRequestID(),
	}
}

// screens collects a terminal's screens from now on.
type screens struct {
	mu      sync.Mutex
	names   []string
	changed chan struct{} // closed and replaced on every new screen
	done    chan struct{}
}

func watch(t *testing.T, term *simterm.Terminal) *screens {
	ch, stop := term.Subscribe()
	s := &screens{changed: make(chan struct{}), done: make(chan struct{})}
	<-ch // the current screen
	go func() {
		defer close(s.done)
		for sc := range ch {
			s.mu.Lock()
			s.names = append(s.names, sc.Name)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { stop(); <-s.done })
	return s
}

func (s *screens) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

// waitFor waits until the terminal has shown name.
func (s *screens) waitFor(t *testing.T, name string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		changed := s.changed
		for _, n := range s.names {
			if n == name {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("screen %q never shown; saw %s", name, strings.Join(s.list(), ","))
		}
	}
}

// paidSale runs a sale to the end and returns the paid order.
func paidSale(t *testing.T, g *gateway, c *sdk.Client, tid string) sdk.Order {
	t.Helper()
	r := call(t, c, "v3.POS", saleData(tid, "12.50"))
	require.True(t, r.Status, "sale: %s %s", r.Code, r.Message)
	o := orderOf(t, r)
	waitState(t, c, o.TradeID, "paid")
	return o
}

// queryOrder returns the order as v3.QueryOrder shows it now.
func queryOrder(t *testing.T, c *sdk.Client, tradeID string) sdk.Transaction {
	t.Helper()
	r := call(t, c, "v3.QueryOrder", map[string]string{"trade_id": tradeID})
	require.True(t, r.Status, "query: %s %s", r.Code, r.Message)
	var q struct {
		TransactionInfo sdk.Transaction `json:"transaction_info"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &q))
	return q.TransactionInfo
}

// waitState polls v3.QueryOrder until the order reaches state.
func waitState(t *testing.T, c *sdk.Client, tradeID, state string) sdk.Transaction {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := queryOrder(t, c, tradeID)
		if info.State == state {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s, want %s", tradeID, info.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seedOrder writes an order straight into the store, made now on tid, for
// tests of rules that need an order in a given state.
func (g *gateway) seedOrder(tid string, state posgate.State, mods ...func(*posgate.Order)) posgate.Order {
	g.t.Helper()
	now := g.Clock.Now().UTC()
	var o posgate.Order
	err := g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
		term, err := tx.Terminal(tid)
		if err != nil {
			return err
		}
		loc, err := term.Location()
		if err != nil {
			return err
		}
		b := make([]byte, 16)
		rand.Read(b)
		h := hex.EncodeToString(b)
		o = posgate.Order{
			TradeID: h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], MerchantID: term.MerchantID,
			TID: tid, User: tid, OrderID: "280244567856723026", Operation: posgate.OpSale, Amount: 1250, Currency: "EUR",
			Description: "seeded", PayMethod: "offline", SubPayMethod: "point_of_sales", State: state,
			CreatedAt: now, UpdatedAt: now, BusinessDate: posgate.BusinessDate(now, loc), ExpiresAt: now.Add(2 * time.Minute),
		}
		if state == posgate.StatePaid || state == posgate.StateAuthorized {
			o.PaidAt, o.TransactionID = &now, "SEED00000000000000000001"
		}
		for _, m := range mods {
			m(&o)
		}
		return tx.InsertOrder(o)
	})
	require.NoError(g.t, err)
	return o
}
