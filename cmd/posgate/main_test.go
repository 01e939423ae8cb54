package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"time"

	"github.com/posgate/posgate/internal/bintest"

	"github.com/posgate/posgate/sdk"
	"github.com/stretchr/testify/require"
)

// bin is the posgate binary these black-box tests run, built once.
var bin string

func TestMain(m *testing.M) { bintest.Main(m, &bin) }

func runBin(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// runIn runs a posgate command in this process, as run does for main,
// with env ("NAME=value") as its whole environment.
func runIn(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &out, &errb)
	if code != 0 {
		return out.String(), errb.String(), fmt.Errorf("posgate %s: exit %d", strings.Join(args, " "), code)
	}
	return out.String(), errb.String(), nil
}

var secretLine = regexp.MustCompile(`^secret_key=([0-9a-f]{64})\n$`)

func TestCredentialsCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	out, stderr, err := runIn(t, nil, "terminals", "add", "--db", db, "--merchant", "Demo Shop", "--tid", "T125119061")
	require.NoError(t, err, stderr)
	m := secretLine.FindStringSubmatch(out)
	require.NotNil(t, m, "output: %q", out)
	secret := m[1]

	st, err := os.Stat(filepath.Join(filepath.Dir(db), "posgate.key"))
	require.NoError(t, err, "the master key file is created beside the database")
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	known := strings.Repeat("ab", 32)
	out, stderr, err = runIn(t, nil, "terminals", "add", "--db", db, "--merchant", "Demo Shop", "--tid", "T2", "--secret", known, "--timezone", "America/New_York", "--currency", "USD")
	require.NoError(t, err, stderr)
	require.Equal(t, "secret_key="+known+"\n", out)

	_, stderr, err = runIn(t, nil, "terminals", "add", "--db", db, "--merchant", "Demo Shop", "--tid", "T2")
	require.Error(t, err, "a TID is added once")
	require.Contains(t, stderr, "T2")

	_, _, err = runIn(t, nil, "terminals", "add", "--db", db, "--merchant", "Demo Shop", "--tid", "T3", "--timezone", "Mars/Base")
	require.Error(t, err)

	out, stderr, err = runIn(t, nil, "cashiers", "add", "--db", db, "--merchant", "Demo Shop", "--uid", "016683")
	require.NoError(t, err, stderr)
	require.Regexp(t, secretLine, out)

	_, _, err = runIn(t, nil, "cashiers", "add", "--db", db, "--merchant", "Demo Shop", "--uid", "T2")
	require.Error(t, err, "cashier UIDs and TIDs share one namespace")

	out, stderr, err = runIn(t, []string{"POSGATE_DB=" + db}, "terminals", "list")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "T125119061")
	require.Contains(t, out, "America/New_York")
	require.NotContains(t, out, secret)
	require.NotContains(t, out, known)

	out, stderr, err = runIn(t, nil, "cashiers", "list", "--db", db)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "016683")
	require.Contains(t, out, "Demo Shop")

	out, stderr, err = runIn(t, nil, "batches", "close", "--db", db, "--tid", "T125119061")
	require.NoError(t, err, stderr)
	require.Equal(t, "cleared=0 tid=T125119061\n", out)

	raw, err := os.ReadFile(db)
	require.NoError(t, err)
	require.NotContains(t, string(raw), secret, "secrets are sealed at rest")
}

// started runs a long-lived posgate command and returns the first line of
// its output (stdout or stderr) that matches re, and the process.
func started(t *testing.T, re *regexp.Regexp, env []string, args ...string) ([]string, *exec.Cmd, *syncBuffer) {
	t.Helper()
	return startedBin(t, bin, re, env, args...)
}

// startedBin is started with another build of the binary.
func startedBin(t *testing.T, binary string, re *regexp.Regexp, env []string, args ...string) ([]string, *exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	var all syncBuffer
	w := io.MultiWriter(pw, &all) // one writer: exec then writes from one goroutine at a time
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
				io.Copy(io.Discard, pr)
				return
			}
		}
	}()
	select {
	case m := <-found:
		return m, cmd, &all
	case <-time.After(60 * time.Second):
		t.Fatalf("no line matching %s", re)
		return nil, nil, nil
	}
}

// syncBuffer is a process's output, readable by the test while the
// process still writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeTerminalAndAdmin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32)}
	secret := strings.Repeat("cd", 32)
	_, stderr, err := runBin(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T1", "--secret", secret)
	require.NoError(t, err, stderr)

	m, serve, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
	base := m[1]
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	started(t, regexp.MustCompile(`screen=idle tid=T1`), nil, "terminal", "--server", base, "--tid", "T1", "--secret", secret, "--headless")

	req, _ := http.NewRequest("GET", base+"/admin/v1/terminals/T1", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req.Header.Set("Authorization", "Bearer secret-admin")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var term struct {
		TID      string `json:"tid"`
		Online   bool   `json:"online"`
		LastSeen string `json:"last_seen_at"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&term))
	resp.Body.Close()
	require.Equal(t, "T1", term.TID)
	require.True(t, term.Online)
	require.NotEmpty(t, term.LastSeen)

	for token, want := range map[string]int{"": http.StatusUnauthorized, "secret-admin": http.StatusOK} {
		req, _ := http.NewRequest("GET", base+"/admin/v1/debug/pprof/goroutine?debug=1", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, "pprof with token %q", token)
	}

	// A paid sale, then `posgate batches close` from another process: the
	// reversal is refused as cleared.
	till := sdk.New(base, "T1", secret)
	ctx := context.Background()
	r, err := till.Call(ctx, "v3.POS", map[string]string{"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": "T1",
		"order_id": "1", "amount": "12.50", "currency": "EUR", "description": "x", "notify_url": "https://m.example/n", "request_id": sdk.NewRequestID()})
	require.NoError(t, err)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	var o struct {
		TradeID string `json:"trade_id"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &o))
	for deadline := time.Now().Add(10 * time.Second); ; {
		q, err := till.Call(ctx, "v3.QueryOrder", map[string]string{"trade_id": o.TradeID})
		require.NoError(t, err)
		if strings.Contains(string(q.Data), `"state":"paid"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "never paid: %s", q.Data)
		time.Sleep(10 * time.Millisecond)
	}
	out, stderr, err := runBin(t, env, "batches", "close", "--db", db, "--tid", "T1")
	require.NoError(t, err, stderr)
	require.Equal(t, "cleared=1 tid=T1\n", out)
	r, err = till.Call(ctx, "v3.POSReversal", map[string]string{"tid": "T1", "trade_id": o.TradeID, "request_id": sdk.NewRequestID()})
	require.NoError(t, err)
	require.Equal(t, "-4112", string(r.Code), r.Message)

	// The sale's notifications, listed and replayed from another process.
	out, stderr, err = runBin(t, env, "notifications", "list", "--db", db)
	require.NoError(t, err, stderr)
	require.Contains(t, out, o.TradeID)
	id := regexp.MustCompile(`(?m)^([0-9a-f-]{36})\s`).FindStringSubmatch(out)
	require.NotNil(t, id, "no notification id in:\n%s", out)
	out, stderr, err = runBin(t, env, "notifications", "replay", "--db", db, id[1])
	require.NoError(t, err, stderr)
	require.Contains(t, out, id[1])
	_, _, err = runBin(t, env, "notifications", "replay", "--db", db, "00000000-0000-0000-0000-000000000000")
	require.Error(t, err, "an unknown id is refused")

	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	require.NoError(t, serve.Wait(), "SIGTERM shuts down cleanly")
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	m, demo, out := started(t, regexp.MustCompile(`posgate keeps serving at (http://\S+)`), nil, "demo", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "demo.db"))
	require.NotEmpty(t, m[1])
	// A till with the wrong secret: the demo logs what it should have signed.
	r, err := sdk.New(m[1], "016683", strings.Repeat("00", 32)).Call(context.Background(), "v3.QueryOrder", map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"})
	require.NoError(t, err)
	require.Equal(t, "-1001", string(r.Code))
	require.NoError(t, demo.Process.Signal(os.Interrupt))
	require.NoError(t, demo.Wait())
	text := out.String()
	for _, want := range []string{"screen=amount", "screen=approved", "screen=reversal_requested", "screen=reversal_approved", `"state":"cancelled"`, "admin_token="} {
		require.Contains(t, text, want)
	}
	// At the default level, info: the requests, readable, and the orders' state changes.
	require.Regexp(t, `level=INFO msg=request response_id=\d+ method=v3.POS user=T125119061 code=200 duration_ms=\d+(\.\d+)?\n`, text)
	require.Regexp(t, `level=INFO msg="order state" trade_id=\S+ tid=T125119061 from=paid to=cancelled`, text)
	require.Regexp(t, `level=WARN msg="signature does not verify.*user=016683 string_to_sign="method=v3.QueryOrder&time=\d+&trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121&user=016683"`, text)
	require.Contains(t, text, "SIMULATED acquirer")
	// Not on the PATH: the follow-ups name the binary as it was started.
	require.Contains(t, text, "\n  "+bin+" terminals add --db ")
}

// With this binary on the PATH, also: the follow-ups say posgate.
func TestDemoHonoursLogLevel(t *testing.T) {
	path := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	m, demo, out := started(t, regexp.MustCompile(`posgate keeps serving at (http://\S+)`), path, "demo", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "demo.db"), "--log-level", "warn")
	require.NotEmpty(t, m[1])
	require.NoError(t, demo.Process.Signal(os.Interrupt))
	require.NoError(t, demo.Wait())
	require.NotContains(t, out.String(), "level=INFO")
	require.Contains(t, out.String(), "screen=reversal_approved")
	require.Contains(t, out.String(), "\n  posgate terminals add --db ", "this binary is the posgate on the PATH")
}

func TestRedactDSN(t *testing.T) {
	require.Equal(t, "postgres://posgate:xxxxx@db:5432/pg?sslmode=require", redactDSN("postgres://posgate:s3cret@db:5432/pg?sslmode=require"))
	require.Equal(t, "posgate.db", redactDSN("posgate.db"))
}

// TestServeAdminAddr: with --admin-addr (here its variable) the operator's
// routes answer only on their own listener, the main one answers 404 for
// them and still serves /Payments' neighbours.
func TestServeAdminAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32), "POSGATE_ADMIN_ADDR=127.0.0.1:0"}
	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+) admin_url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
	main, admin := m[1], m[2]
	require.NotEqual(t, main, admin)
	get := func(url string) int {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer secret-admin")
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/admin/v1/terminals", "/console/login", "/metrics", "/admin/v1/debug/pprof/goroutine?debug=1"} {
		require.Equal(t, http.StatusNotFound, get(main+path), "main listener %s", path)
		require.Equal(t, http.StatusOK, get(admin+path), "admin listener %s", path)
	}
	require.Equal(t, http.StatusOK, get(main+"/healthz"))
	require.Equal(t, http.StatusOK, get(main+"/readyz"))
	require.Equal(t, http.StatusOK, get(admin+"/healthz"))
	require.Equal(t, http.StatusNotFound, get(admin+"/readyz"), "readiness is the API's, on its listener")
}
