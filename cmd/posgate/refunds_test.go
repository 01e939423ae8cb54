package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
)

// notifications records the signed notifications a merchant receives,
// checking each signature with its user's secret.
type notifications struct {
	mu      sync.Mutex
	states  map[string][]string // refund_id -> states in arrival order
	changed chan struct{}
}

func newNotifications(t *testing.T, secrets map[string]string) (*notifications, string) {
	n := &notifications{states: map[string][]string{}, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg protocol.Notification
		if json.Unmarshal(body, &msg) != nil || !protocol.Verify(secrets[msg.Data["user"]], protocol.StringToSign(msg.Data), msg.Sign) {
			t.Errorf("a notification that does not verify: %s", body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		if id := msg.Data["refund_id"]; id != "" {
			n.states[id] = append(n.states[id], msg.Data["state"])
		}
		close(n.changed)
		n.changed = make(chan struct{})
		n.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return n, srv.URL + "/notify"
}

// wait returns refundID's delivered states once there are want of them.
func (n *notifications) wait(t *testing.T, refundID string, want int) []string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		n.mu.Lock()
		got, changed := append([]string(nil), n.states[refundID]...), n.changed
		n.mu.Unlock()
		if len(got) >= want {
			return got
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("refund %s: %d notifications delivered (%v), want %d", refundID, len(got), got, want)
		}
	}
}

// TestRefundApprovalNotified approves and rejects refunds with the
// operator commands while `posgate serve` runs on the same database: the
// notifications those commands cause are delivered by the gateway.
func TestRefundApprovalNotified(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("22", 32)}
	termSecret, cashierSecret := strings.Repeat("cd", 32), strings.Repeat("ef", 32)
	_, stderr, err := runIn(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T1", "--secret", termSecret)
	require.NoError(t, err, stderr)
	_, stderr, err = runIn(t, env, "cashiers", "add", "--db", db, "--merchant", "Shop", "--uid", "C1", "--secret", cashierSecret, "--refund-authority", "approval")
	require.NoError(t, err, stderr)

	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db, "--allow-private-notify")
	base := m[1]
	started(t, regexp.MustCompile(`screen=idle tid=T1`), nil, "terminal", "--server", base, "--tid", "T1", "--secret", termSecret, "--headless")

	ctx := context.Background()
	rcv, notifyURL := newNotifications(t, map[string]string{"T1": termSecret, "C1": cashierSecret})
	till := sdk.New(base, "T1", termSecret)
	sale, err := till.POS(ctx, &sdk.POSRequest{OrderID: "1", Amount: "20.00", Currency: "EUR", Description: "x", NotifyURL: notifyURL})
	require.NoError(t, err)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		q, err := till.QueryOrder(ctx, sale.TradeID)
		require.NoError(t, err)
		if q.State == sdk.StatePaid {
			break
		}
		require.True(t, time.Now().Before(deadline), "never paid: %s", q.State)
	}

	cashier := sdk.New(base, "C1", cashierSecret)
	refund := func() string {
		rf, err := cashier.CreateRefund(ctx, &sdk.RefundRequest{TradeID: sale.TradeID, Amount: "5.00", Currency: "EUR", Description: "returned", NotifyURL: notifyURL})
		require.NoError(t, err)
		require.Equal(t, "to-be-approval", rf.State)
		return rf.RefundID
	}
	approved, rejected := refund(), refund()

	out, stderr, err := runBin(t, env, "refunds", "approve", "--db", db, approved)
	require.NoError(t, err, stderr)
	require.Contains(t, out, `state="refunded"`)
	out, stderr, err = runBin(t, env, "refunds", "reject", "--db", db, rejected)
	require.NoError(t, err, stderr)
	require.Contains(t, out, `state="refund cancel"`)

	require.ElementsMatch(t, []string{"to-be-approval", "refund processing", "refunded"}, rcv.wait(t, approved, 3), "deliveries run in parallel: the order of arrival is not the order of events")
	require.ElementsMatch(t, []string{"to-be-approval", "refund cancel"}, rcv.wait(t, rejected, 2))

	// Both are audited under the system user who ran the command.
	out, stderr, err = runBin(t, env, "orders", "show", "--db", db, sale.TradeID)
	require.NoError(t, err, stderr)
	require.Regexp(t, `operator_action\s+operator cli:\S+ approved refund `+approved, out)
	require.Regexp(t, `operator_action\s+operator cli:\S+ rejected refund `+rejected+`: rejected by an operator`, out)
}

func TestOperatorsCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("33", 32)}
	out, stderr, err := runBin(t, env, "operators", "add", "--db", db, "alice")
	require.NoError(t, err, stderr)
	m := regexp.MustCompile(`(?m)^secret=(pgo_[0-9a-f]{48})$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	_, stderr, err = runBin(t, env, "operators", "add", "--db", db, "alice")
	require.Error(t, err)
	require.Contains(t, stderr, "add operator alice")
	_, stderr, err = runBin(t, env, "operators", "add", "--db", db, "Admin:x")
	require.Error(t, err)
	require.Contains(t, stderr, "want 1 to 32 of a-z")
	out, stderr, err = runBin(t, env, "operators", "list", "--db", db)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "alice")
	require.NotContains(t, out, m[1], "the secret is shown once")

	// The serving gateway takes the credential at once.
	started := func() string {
		mm, _, _ := startedBin(t, bin, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
		return mm[1]
	}
	base := started()
	status := func(auth string) int {
		req, _ := http.NewRequest("GET", base+"/admin/v1/terminals", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status("Bearer alice:"+m[1]))
	_, stderr, err = runBin(t, env, "operators", "remove", "--db", db, "alice")
	require.NoError(t, err, stderr)
	require.Equal(t, http.StatusUnauthorized, status("Bearer alice:"+m[1]))
	require.Equal(t, http.StatusOK, status("Bearer secret-admin"))
}
