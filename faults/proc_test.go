package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// proc is a posgate process whose output lines the test can wait on.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is read

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		<-read
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill is kill -9, and returns once the process is gone.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// exited waits (bounded) for a process that stops by itself, such as a
// terminal whose crash fault fired.
func (p *proc) exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// waitLine waits until a line, old or new, matches re.
func (p *proc) waitLine(re *regexp.Regexp, d time.Duration) {
	p.t.Helper()
	if !p.findLine(re, d) {
		p.t.Fatalf("%s: no line matching %s within %s; output:\n%s", p.name, re, d, p.output())
	}
}

func (p *proc) findLine(re *regexp.Regexp, d time.Duration) bool {
	timeout := time.After(d)
	seen := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines[seen:], p.changed
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if re.MatchString(l) {
				return true
			}
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				return false
			}
		case <-timeout:
			return false
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

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
	p    *proc   // the running process
	all  []*proc // every process so far, for their logs
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
	g.p = startProc(g.t, "gateway", gatewayEnv, "serve", "--acquirer", "simulated", "--addr", g.addr, "--db", g.db,
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
		case <-g.p.done:
			g.t.Fatalf("gateway exited:\n%s", g.p.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway not healthy within 30s:\n%s", g.p.output())
		}
	}
}

func (g *gateway) kill() { g.p.kill() }

func (g *gateway) outputs() []string {
	out := make([]string, len(g.all))
	for i, p := range g.all {
		out[i] = p.output()
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
	p         *proc   // the running process
	procs     []*proc // every process so far, for the screens they printed
}

func (tm *terminal) start(faultFlags ...string) {
	tm.t.Helper()
	args := append([]string{"terminal", "--server", tm.server, "--tid", tid, "--headless", "--journal", tm.journal,
		"--card-delay", tm.cardDelay.String()}, faultFlags...)
	tm.p = startProc(tm.t, "terminal", []string{"POSGATE_SECRET=" + tm.secret}, args...)
	tm.procs = append(tm.procs, tm.p)
}

func (tm *terminal) outputs() []string {
	out := make([]string, len(tm.procs))
	for i, p := range tm.procs {
		out[i] = p.output()
	}
	return out
}

// screen waits until the terminal shows name for the trade.
func (tm *terminal) screen(name, tradeID string) {
	tm.t.Helper()
	tm.p.waitLine(regexp.MustCompile(`^screen=`+name+` .*trade_id=`+regexp.QuoteMeta(tradeID)+`( |$)`), 20*time.Second)
}

func (tm *terminal) kill() { tm.p.kill() }

func mustf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
