package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/posgate/posgate/internal/bintest"
)

// freePort picks a loopback port the gateway keeps across its restarts,
// so the terminal, started once with --server, finds it again.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const (
	masterKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	adminToken = "faults-admin-token"
	tid        = "T1"
	// Short deadlines keep a cell to seconds: reconcileAfter is how long
	// past its card time an order waits for an unanswering terminal, and
	// acquirerTimeout bounds an acquirer call (the slow simulated refund
	// takes 2 s); twice it, a stuck refund is asked again.
	saleTimeout     = 3 * time.Second
	reversalWait    = 3 * time.Second
	displayWait     = 2 * time.Second
	reconcileAfter  = 5 * time.Second
	acquirerTimeout = 3 * time.Second
)

var gatewayEnv = []string{"POSGATE_MASTER_KEY=" + masterKey, "POSGATE_ADMIN_TOKEN=" + adminToken}

// gateway is one `posgate serve` on a fixed address and database, which a
// cell kills and starts again.
type gateway struct {
	t    testing.TB
	db   string
	addr string
	URL  string
	p    *bintest.Proc   // the running process
	all  []*bintest.Proc // every process so far, for their logs
}

func newGateway(t testing.TB, db string) *gateway {
	addr := freePort(t)
	return &gateway{t: t, db: db, addr: addr, URL: "http://" + addr}
}

func (g *gateway) provision(secret string) {
	g.t.Helper()
	cmd := exec.Command(bin, "terminals", "add", "--db", g.db, "--merchant", "Shop", "--tid", tid, "--secret", secret)
	cmd.Env = append(os.Environ(), gatewayEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("terminals add: %v\n%s", err, out)
	}
}

func (g *gateway) start() {
	g.t.Helper()
	g.p = bintest.Start(g.t, bin, gatewayEnv, "serve", "--acquirer", "simulated", "--addr", g.addr, "--db", g.db,
		"--sale-timeout", saleTimeout.String(), "--reversal-wait", reversalWait.String(), "--display-wait", displayWait.String(),
		"--reconcile-after", reconcileAfter.String(), "--acquirer-timeout", acquirerTimeout.String(),
		"--heartbeat", "1s", "--allow-private-notify", "--log-level", "warn")
	g.all = append(g.all, g.p)
	// At --log-level warn a failed trial's log holds the warnings that
	// explain it (late results, dropped links), not every request; the
	// info line "posgate serving" is gone with the rest, so readiness is
	// /healthz answering.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.p.Done():
			g.t.Fatalf("gateway exited:\n%s", g.p.Output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway not healthy within 30s:\n%s", g.p.Output())
		}
	}
}

func (g *gateway) kill() { g.p.Kill() }

func (g *gateway) outputs() []string {
	out := make([]string, len(g.all))
	for i, p := range g.all {
		out[i] = p.Output()
	}
	return out
}

// online reports the gateway's own view of the terminal.
func (g *gateway) online() bool {
	req, _ := http.NewRequest("GET", g.URL+"/admin/v1/terminals/"+tid, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Online bool `json:"online"`
	}
	return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Online
}

func (g *gateway) waitOnline() {
	g.t.Helper()
	if !poll(30*time.Second, g.online) {
		g.t.Fatalf("terminal %s never online at the gateway", tid)
	}
}

// poll checks cond until it holds or d passes, with short pauses between
// checks of state that lives in another process.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// terminal is a headless simulated terminal with a journal file that
// outlives its processes.
type terminal struct {
	t         testing.TB
	server    string
	secret    string
	journal   string
	cardDelay time.Duration
	p         *bintest.Proc   // the running process
	procs     []*bintest.Proc // every process so far, for the screens they printed
}

func (tm *terminal) start(faultFlags ...string) {
	tm.t.Helper()
	args := append([]string{"terminal", "--server", tm.server, "--tid", tid, "--headless", "--journal", tm.journal,
		"--card-delay", tm.cardDelay.String()}, faultFlags...)
	tm.p = bintest.Start(tm.t, bin, []string{"POSGATE_SECRET=" + tm.secret}, args...)
	tm.procs = append(tm.procs, tm.p)
}

func (tm *terminal) outputs() []string {
	out := make([]string, len(tm.procs))
	for i, p := range tm.procs {
		out[i] = p.Output()
	}
	return out
}

// screen waits until the terminal shows name for the trade.
func (tm *terminal) screen(name, tradeID string) {
	tm.t.Helper()
	re := regexp.MustCompile(`^screen=` + name + ` .*trade_id=` + regexp.QuoteMeta(tradeID) + `( |$)`)
	if !tm.p.FindLine(re, 20*time.Second) {
		tm.t.Fatalf("terminal: no line matching %s within 20s; output:\n%s", re, tm.p.Output())
	}
}

func (tm *terminal) kill() { tm.p.Kill() }

func mustf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
