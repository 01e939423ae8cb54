package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/stretchr/testify/require"
)

type envelope struct {
	Status     bool            `json:"status"`
	Code       string          `json:"code"`
	Data       json.RawMessage `json:"data"`
	Message    string          `json:"message"`
	ResponseID string          `json:"response_id"`
}

func TestCallRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("22", 32)}
	secret := strings.Repeat("ef", 32)
	_, stderr, err := runIn(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T125119061", "--secret", secret)
	require.NoError(t, err, stderr)
	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
	base := m[1]
	// The terminal's secret from the environment: it authenticates and
	// shows its idle screen.
	started(t, regexp.MustCompile(`screen=idle tid=T125119061`), []string{"POSGATE_SECRET=" + secret}, "terminal", "--server", base, "--tid", "T125119061", "--headless")

	// The secret from the environment, as the help recommends.
	callEnv := []string{"POSGATE_SECRET=" + secret, "POSGATE_SERVER=" + base}
	call := func(args ...string) (envelope, string, error) {
		t.Helper()
		out, stderr, err := runIn(t, callEnv, append([]string{"call", "--user", "T125119061"}, args...)...)
		var e envelope
		require.NoError(t, json.Unmarshal([]byte(out), &e), "stdout %q stderr %q", out, stderr)
		require.Contains(t, out, "\n  \"status\": ", "indented JSON")
		return e, stderr, err
	}

	sale, stderr, err := call("v3.POS", "pay_method=offline", "sub_pay_method=point_of_sales", "operation=1", "order_id=202586556498441613",
		"amount=12.5", "currency=EUR", "description=YabandPay test", "notify_url=https://merchant.example/notify")
	require.NoError(t, err, stderr)
	require.True(t, sale.Status)
	var order struct {
		TradeID string `json:"trade_id"`
		Amount  string `json:"amount"`
	}
	require.NoError(t, json.Unmarshal(sale.Data, &order))
	require.Equal(t, "12.50", order.Amount)

	// The short method name; the simulated terminal taps a card by itself.
	var state string
	for deadline := time.Now().Add(20 * time.Second); state != "paid"; {
		q, stderr, err := call("QueryOrder", "trade_id="+order.TradeID)
		require.NoError(t, err, stderr)
		var d struct {
			TransactionInfo struct{ State string } `json:"transaction_info"`
		}
		require.NoError(t, json.Unmarshal(q.Data, &d))
		state = d.TransactionInfo.State
		require.False(t, time.Now().After(deadline), "order still %s", state)
		time.Sleep(50 * time.Millisecond)
	}

	// A pre-authorisation, lowered and then captured by the terminal.
	auth, stderr, err := call("v3.POS", "pay_method=offline", "sub_pay_method=point_of_sales", "operation=2", "order_id=202586556498441614",
		"amount=30", "currency=EUR", "description=hotel", "notify_url=https://merchant.example/notify")
	require.NoError(t, err, stderr)
	var held struct {
		TradeID string `json:"trade_id"`
		Amount  string `json:"amount"`
		State   string `json:"state"`
	}
	require.NoError(t, json.Unmarshal(auth.Data, &held))
	for deadline := time.Now().Add(20 * time.Second); held.State != "authorized"; {
		q, stderr, err := call("QueryOrder", "trade_id="+held.TradeID)
		require.NoError(t, err, stderr)
		var d struct {
			TransactionInfo struct{ State string } `json:"transaction_info"`
		}
		require.NoError(t, json.Unmarshal(q.Data, &d))
		held.State = d.TransactionInfo.State
		require.False(t, time.Now().After(deadline), "authorisation still %s", held.State)
		time.Sleep(50 * time.Millisecond)
	}
	change := func(method, amount string) {
		t.Helper()
		e, stderr, err := call(method, "trade_id="+held.TradeID, "amount="+amount, "currency=EUR", "description=stay",
			"notify_url=https://merchant.example/notify")
		require.NoError(t, err, stderr)
		require.NoError(t, json.Unmarshal(e.Data, &held))
	}
	change("PreauthDecrement", "5")
	require.Equal(t, []string{"authorized", "25.00"}, []string{held.State, held.Amount})
	change("v3.Capture", "20")
	require.Equal(t, []string{"paid", "20.00"}, []string{held.State, held.Amount})

	// The exports write the CSV to stdout.
	from, to := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10), strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	out, stderr, err := runIn(t, callEnv, "call", "--user", "T125119061", "TimePayOrder", "start_time="+from, "end_time="+to)
	require.NoError(t, err, stderr)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err, out)
	require.Len(t, rows, 3, out)
	require.Equal(t, "trade_id", rows[0][0])
	require.ElementsMatch(t, []string{order.TradeID, held.TradeID}, []string{rows[1][0], rows[2][0]})
	out, stderr, err = runIn(t, callEnv, "call", "--user", "T125119061", "v3.TimeRefundOrder", "start_time="+from, "end_time="+to)
	require.NoError(t, err, stderr)
	require.True(t, strings.HasPrefix(out, "refund_id,trade_id,"), out)
	require.Equal(t, 1, strings.Count(out, "\n"), "the header only: no refunds")
	_, stderr, err = runIn(t, callEnv, "call", "--user", "T125119061", "TimePayOrder", "start_time="+from, "end_time="+from)
	require.Error(t, err, "an empty range is refused")
	require.Contains(t, stderr, "-3003")

	e, stderr, err := call("v3.POSReversal", "trade_id=00000000-0000-0000-0000-000000000000")
	require.Error(t, err, "status false exits non-zero")
	require.False(t, e.Status)
	require.Equal(t, string(protocol.CodeTradeNotFound), e.Code)
	require.Contains(t, stderr, "-4114")
}

func TestCallDryRunAndSign(t *testing.T) {
	secret := strings.Repeat("ab", 32)
	// The POSReversal example of YabandPay's documentation.
	wantToSign := "method=v3.POSReversal&request_id=a7z1lox4l6z6mdx1udgn5gtezasze1x0&tid=T125119061&time=1555498137&trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121&user=T125119061"
	wantSign := protocol.Sign(secret, wantToSign)
	out, stderr, err := runIn(t, nil, "call", "v3.POSReversal", "--dry-run", "--server", "http://127.0.0.1:1", "--user", "T125119061",
		"--secret", secret, "--time", "1555498137", "trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121", "request_id=a7z1lox4l6z6mdx1udgn5gtezasze1x0")
	require.NoError(t, err, stderr)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	require.Equal(t, "string_to_sign="+wantToSign, lines[0])
	require.Equal(t, "sign="+wantSign, lines[1])
	body := strings.TrimPrefix(lines[2], "body=")
	req, err := protocol.DecodeRequest([]byte(body))
	require.NoError(t, err)
	require.Equal(t, wantSign, req.Sign)
	require.Equal(t, wantToSign, req.StringToSign())

	sign := func(stdin string) (string, string, error) {
		cmd := exec.Command(bin, "sign", "--secret", secret)
		cmd.Env = os.Environ()
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	out, stderr, err = sign(body)
	require.NoError(t, err, stderr)
	require.Equal(t, "string_to_sign="+wantToSign+"\nsign="+wantSign+"\nenvelope_sign_ok=true\n", out)

	out, _, err = sign(strings.Replace(body, "T125119061", "T125119062", 1))
	require.Error(t, err, "a sign that does not match exits non-zero")
	require.Contains(t, out, "envelope_sign_ok=false")

	// A notification: only data is signed.
	out, stderr, err = sign(`{"data":{"user":"T125119061","state":"paid","amount":12.50}}`)
	require.NoError(t, err, stderr)
	require.Equal(t, "string_to_sign=amount=12.50&state=paid&user=T125119061\nsign="+protocol.Sign(secret, "amount=12.50&state=paid&user=T125119061")+"\n", out)

	_, stderr, err = sign(`{"user":"a","user":"b"}`)
	require.Error(t, err)
	require.Contains(t, stderr, "duplicate key")
}
