package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posgate/posgate/sdk"
	"github.com/stretchr/testify/require"
)

// drainRig is a served gateway (the real binary, SQLite) with one headless
// terminal that holds each result back for resultDelay, and a paid sale.
type drainRig struct {
	base, tradeID string
	serve         *os.Process
	wait          func() error
	terminal      func() string // the terminal's output so far
	till          *sdk.Client
	// restart starts the gateway again on the same address and database.
	restart func()
}

func startDrainRig(t *testing.T, resultDelay time.Duration, serveArgs ...string) *drainRig {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32)}
	secret := strings.Repeat("cd", 32)
	_, stderr, err := runBin(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T1", "--secret", secret)
	require.NoError(t, err, stderr)
	args := append([]string{"serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db}, serveArgs...)
	m, serve, _ := started(t, regexp.MustCompile(`url=(http://\S+)`), env, args...)
	base := m[1]
	restart := func() {
		args[4] = strings.TrimPrefix(base, "http://")
		started(t, regexp.MustCompile(`url=(http://\S+)`), env, args...)
	}
	_, _, termOut := started(t, regexp.MustCompile(`screen=idle tid=T1`), nil, "terminal", "--server", base, "--tid", "T1", "--secret", secret,
		"--headless", "--log-level", "info", "--card-delay", "10ms", "--result-delay", resultDelay.String())

	till := sdk.New(base, "T1", secret)
	r, err := till.Call(t.Context(), "v3.POS", map[string]string{"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": "T1",
		"order_id": "1", "amount": "12.50", "currency": "EUR", "description": "x", "notify_url": "https://m.example/n", "request_id": sdk.NewRequestID()})
	require.NoError(t, err)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	var o struct {
		TradeID string `json:"trade_id"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &o))
	for deadline := time.Now().Add(30 * time.Second); ; {
		q, err := till.Call(t.Context(), "v3.QueryOrder", map[string]string{"trade_id": o.TradeID})
		require.NoError(t, err)
		if strings.Contains(string(q.Data), `"state":"paid"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "never paid: %s", q.Data)
		time.Sleep(20 * time.Millisecond)
	}
	return &drainRig{base: base, tradeID: o.TradeID, serve: serve.Process, wait: serve.Wait, terminal: termOut.String, till: till, restart: restart}
}

// reverseInFlight starts a reversal and returns once the terminal has it.
func (g *drainRig) reverseInFlight(t *testing.T) <-chan *sdk.Response {
	t.Helper()
	answer := make(chan *sdk.Response, 1)
	go func() {
		r, err := g.till.Call(context.Background(), "v3.POSReversal", map[string]string{"tid": "T1", "trade_id": g.tradeID, "request_id": sdk.NewRequestID()})
		if err != nil {
			r = &sdk.Response{Code: "transport", Message: err.Error()}
		}
		answer <- r
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(g.terminal(), "screen=reversal"); {
		require.True(t, time.Now().Before(deadline), "the reversal never reached the terminal:\n%s", g.terminal())
		time.Sleep(10 * time.Millisecond)
	}
	return answer
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDrainAnswersCallInFlight: SIGTERM while a reversal waits for its
// terminal. The gateway drains: /readyz answers 503 "draining" while
// /healthz stays 200, a new merchant call is refused with HTTP 503 and
// -1006, the reversal in flight is answered with its result, the
// terminal gets the reconnect frame, and the process exits 0.
func TestDrainAnswersCallInFlight(t *testing.T) {
	g := startDrainRig(t, 2*time.Second, "--drain-grace", "20s", "--drain-spread", "300ms")
	answer := g.reverseInFlight(t)
	require.NoError(t, g.serve.Signal(syscall.SIGTERM))

	for deadline := time.Now().Add(5 * time.Second); ; {
		code, body := get(t, g.base+"/readyz")
		if code == http.StatusServiceUnavailable {
			require.JSONEq(t, `{"status":"draining"}`, body)
			break
		}
		require.True(t, time.Now().Before(deadline), "/readyz still %d %s", code, body)
		time.Sleep(10 * time.Millisecond)
	}
	code, _ := get(t, g.base+"/healthz")
	require.Equal(t, http.StatusOK, code, "liveness is not readiness")
	_, metrics := get(t, g.base+"/metrics")
	require.Contains(t, metrics, "\nposgate_draining 1\n")
	r, err := g.till.Call(t.Context(), "v3.QueryOrder", map[string]string{"trade_id": g.tradeID})
	require.NoError(t, err)
	require.Equal(t, "-1006", string(r.Code), "a new call is refused while draining: %s", r.Message)
	require.Contains(t, r.Message, "draining")

	select {
	case r := <-answer:
		require.True(t, r.Status, "the reversal in flight is answered with its result: %s %s", r.Code, r.Message)
		require.Contains(t, string(r.Data), `"state":"cancelled"`)
	case <-time.After(20 * time.Second):
		t.Fatal("the reversal was never answered")
	}
	require.NoError(t, g.wait(), "a drained gateway exits 0")
	require.Contains(t, g.terminal(), "the cloud asked to reconnect")
}

// TestDrainGraceOver: a reversal whose terminal answers after the grace
// is answered -4203; the process still exits 0. Restarted on the same
// address, the gateway gets the terminal back and with it the reversal's
// result: the order ends cancelled, the reversal run once.
func TestDrainGraceOver(t *testing.T) {
	g := startDrainRig(t, 4*time.Second, "--drain-grace", "500ms", "--drain-spread", "100ms")
	answer := g.reverseInFlight(t)
	require.NoError(t, g.serve.Signal(syscall.SIGTERM))
	select {
	case r := <-answer:
		require.Equal(t, "-4203", string(r.Code), r.Message)
	case <-time.After(20 * time.Second):
		t.Fatal("the reversal was never answered")
	}
	require.NoError(t, g.wait(), "a drained gateway exits 0")
	require.Contains(t, g.terminal(), "the cloud asked to reconnect")

	g.restart()
	for deadline := time.Now().Add(30 * time.Second); ; {
		q, err := g.till.Call(t.Context(), "v3.QueryOrder", map[string]string{"trade_id": g.tradeID})
		require.NoError(t, err)
		if strings.Contains(string(q.Data), `"state":"cancelled"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the reversal's result never reached the restarted gateway: %s\n%s", q.Data, g.terminal())
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 1, strings.Count(g.terminal(), "screen=reversal_requested"), "the reversal ran once:\n%s", g.terminal())
}

func TestDrainFlagsValidated(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	for _, args := range [][]string{{"--drain-grace", "0s"}, {"--drain-spread", "-1s"}} {
		_, stderr, err := runIn(t, nil, append([]string{"serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
		require.Error(t, err)
		require.Contains(t, stderr, args[0]+" (or POSGATE_DRAIN_")
	}
	_, stderr, err := runIn(t, []string{"POSGATE_DRAIN_GRACE=soon"}, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
	require.Error(t, err)
	require.Contains(t, stderr, "POSGATE_DRAIN_GRACE")
}
