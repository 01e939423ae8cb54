package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/stretchr/testify/require"
)

// startListen runs the posgate binary's listen and returns its notify URL
// and its stdout, line by line.
func startListen(t *testing.T, env []string, args ...string) (string, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first, err := bufio.NewReader(stderr).ReadString('\n')
	require.NoError(t, err)
	m := regexp.MustCompile(`notify_url (http://\S+)`).FindStringSubmatch(first)
	require.NotNil(t, m, "listen said %q", first)
	go io.Copy(io.Discard, stderr)
	return m[1], lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "listen ended")
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no line from listen")
		return ""
	}
}

func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signedNotification is a notification as the gateway signs it.
func signedNotification(secret string, data map[string]string) string {
	b, _ := json.Marshal(map[string]any{"sign": protocol.Sign(secret, protocol.StringToSign(data)), "data": data})
	return string(b)
}

func TestListenVerifiesTheGatewaysNotifications(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("33", 32)}
	secret := strings.Repeat("a7", 32)
	_, stderr, err := runIn(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T125119061", "--secret", secret)
	require.NoError(t, err, stderr)
	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated",
		"--addr", "127.0.0.1:0", "--db", db, "--allow-private-notify")
	base := m[1]
	started(t, regexp.MustCompile(`screen=idle tid=T125119061`), []string{"POSGATE_SECRET=" + secret}, "terminal", "--server", base, "--tid", "T125119061", "--headless", "--card-delay", "50ms")
	notifyURL, lines := startListen(t, []string{"POSGATE_SECRET=" + secret}, "-o", "json")

	out, stderr, err := runIn(t, []string{"POSGATE_SECRET=" + secret}, "call", "--server", base, "--user", "T125119061", "v3.POS",
		"pay_method=offline", "sub_pay_method=point_of_sales", "operation=1", "order_id=202586556498441613",
		"amount=12.50", "currency=EUR", "description=listen test", "notify_url="+notifyURL)
	require.NoError(t, err, stderr)
	var sale struct {
		Data struct {
			TradeID string `json:"trade_id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &sale))

	// The sale's notifications arrive in any order; the paid one comes.
	for {
		var rec received
		require.NoError(t, json.Unmarshal([]byte(nextLine(t, lines)), &rec))
		require.True(t, rec.Verified, "%+v", rec)
		require.Equal(t, http.StatusOK, rec.Answer)
		require.NotEmpty(t, rec.WebhookID)
		require.Equal(t, sale.Data.TradeID, rec.Data["trade_id"])
		if rec.Data["state"] == "paid" {
			require.Equal(t, "12.50", rec.Data["amount"])
			break
		}
	}

	// A forged one: refused visibly, answered so the gateway would retry.
	forged := signedNotification(strings.Repeat("00", 32), map[string]string{"type": "payment", "user": "T125119061", "trade_id": sale.Data.TradeID, "state": "refunded"})
	status, _ := post(t, notifyURL, forged, map[string]string{"Webhook-Id": "forged-1"})
	require.Equal(t, http.StatusUnauthorized, status)
	var rec received
	require.NoError(t, json.Unmarshal([]byte(nextLine(t, lines)), &rec))
	require.False(t, rec.Verified)
	require.Equal(t, http.StatusUnauthorized, rec.Answer)
	require.Contains(t, rec.Error, "signature does not verify")
	require.Equal(t, "forged-1", rec.WebhookID)

	status, _ = post(t, notifyURL, `{"sign":"x"`, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, nextLine(t, lines), `"error":"malformed notification"`)
}

func TestListenForwardsVerifiedBodiesUnchanged(t *testing.T) {
	secret := strings.Repeat("5c", 32)
	cashier := strings.Repeat("6d", 32)
	type got struct {
		body   string
		header http.Header
	}
	arrived := make(chan got, 4)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		arrived <- got{string(b), r.Header.Clone()}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "taken")
	}))
	defer merchant.Close()
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("# the till\n"+secret+"\n016683 = "+cashier+"\n"), 0o600))
	notifyURL, lines := startListen(t, nil, "--secret-file", file, "--forward-to", merchant.URL+"/hook")

	body := signedNotification(cashier, map[string]string{"type": "refund", "user": "016683", "trade_id": "t-1", "refund_id": "r-1", "state": "refunded", "amount": "1.00", "sequence": "2"})
	status, answer := post(t, notifyURL, body, map[string]string{"Content-Type": "application/json", "Webhook-Id": "w-1", "Webhook-Timestamp": "1732560000"})
	require.Equal(t, http.StatusAccepted, status, "the endpoint's answer is relayed")
	require.Equal(t, "taken", answer)
	g := <-arrived
	require.Equal(t, body, g.body, "byte for byte")
	require.Equal(t, "w-1", g.header.Get("Webhook-Id"))
	require.Equal(t, "1732560000", g.header.Get("Webhook-Timestamp"))
	require.Equal(t, "verified type=refund user=016683 trade_id=t-1 refund_id=r-1 state=refunded amount=1.00 sequence=2 webhook_id=w-1 answer=202", nextLine(t, lines))

	// A user not in the file: the bare line's secret verifies it.
	body = signedNotification(secret, map[string]string{"type": "payment", "user": "T9", "trade_id": "t-2", "state": "paid"})
	status, _ = post(t, notifyURL, body, nil)
	require.Equal(t, http.StatusAccepted, status)
	<-arrived
	require.Contains(t, nextLine(t, lines), "verified type=payment user=T9 ")

	// A forged one never reaches the endpoint.
	body = signedNotification(secret, map[string]string{"type": "refund", "user": "016683", "trade_id": "t-1", "state": "refunded"})
	status, _ = post(t, notifyURL, body, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, `REFUSED "signature does not verify (wrong secret for data.user, or forged)" type=refund user=016683 trade_id=t-1 state=refunded answer=401 (the gateway retries it)`, nextLine(t, lines))
	require.Empty(t, arrived)

	// The endpoint down: 502, so the gateway retries.
	merchant.Close()
	body = signedNotification(secret, map[string]string{"type": "payment", "user": "T9", "trade_id": "t-3", "state": "paid"})
	status, _ = post(t, notifyURL, body, nil)
	require.Equal(t, http.StatusBadGateway, status)
	require.Regexp(t, `^verified type=payment user=T9 trade_id=t-3 state=paid forward_error=".*" answer=502 \(the gateway retries it\)$`, nextLine(t, lines))
}

func TestListenNeedsASecret(t *testing.T) {
	_, stderr, err := runIn(t, nil, "listen", "--addr", "127.0.0.1:0")
	require.Error(t, err)
	require.Contains(t, stderr, "--secret (or POSGATE_SECRET) or --secret-file is required")
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("T1=\n"), 0o600))
	_, stderr, err = runIn(t, nil, "listen", "--secret-file", file)
	require.Error(t, err)
	require.Contains(t, stderr, "line 1: want USER=SECRET")
	_, stderr, err = runIn(t, []string{"POSGATE_SECRET=ab"}, "listen", "--forward-to", "ftp://x")
	require.Error(t, err)
	require.Contains(t, stderr, "--forward-to")
}
