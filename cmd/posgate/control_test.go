package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/stretchr/testify/require"
)

// controlState is the part of the control API's answer the test reads.
type controlState struct {
	Screen struct {
		Name   string `json:"name"`
		Online bool   `json:"online"`
	} `json:"screen"`
	Next      []json.RawMessage `json:"next"`
	Behaviour json.RawMessage   `json:"behaviour"`
	Acquirer  map[string]int    `json:"acquirer"`
	Error     string            `json:"error"`
}

func controlDo(t *testing.T, method, url, body string) (int, controlState) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var s controlState
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return resp.StatusCode, s
}

// A merchant's CI: posgate serve, a headless terminal with its control
// API, and every outcome chosen through the API, checked through the
// gateway's own answers.
func TestControlAPIDrivesEveryOutcome(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("44", 32)}
	secret := strings.Repeat("b8", 32)
	_, stderr, err := runIn(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", "T125119061", "--secret", secret)
	require.NoError(t, err, stderr)
	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated",
		"--addr", "127.0.0.1:0", "--db", db, "--sale-timeout", "60s")
	base := m[1]
	m, _, _ = started(t, regexp.MustCompile(`control API (http://\S+)/v1/state`), []string{"POSGATE_SECRET=" + secret},
		"terminal", "--server", base, "--tid", "T125119061", "--headless", "--card-delay", "20ms", "--control-addr", "127.0.0.1:0")
	ctl := m[1]
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, s := controlDo(t, "GET", ctl+"/v1/state", "")
		if s.Screen.Online && s.Screen.Name == "idle" {
			break
		}
		require.False(t, time.Now().After(deadline), "terminal not online: %+v", s)
		time.Sleep(20 * time.Millisecond)
	}

	ctx := context.Background()
	till := sdk.New(base, "T125119061", secret)
	n := 0
	pos := func(operation, amount string) string {
		t.Helper()
		n++
		r, err := till.Call(ctx, sdk.MethodPOS, map[string]string{"pay_method": "offline", "sub_pay_method": "point_of_sales",
			"operation": operation, "tid": "T125119061", "order_id": fmt.Sprint(time.Now().UnixNano()%1e15*1000 + int64(n)),
			"amount": amount, "currency": "EUR", "description": "control API test", "notify_url": "https://merchant.example/notify", "request_id": sdk.NewRequestID()})
		require.NoError(t, err)
		require.True(t, r.Status, "%s %s", r.Code, r.Message)
		var o protocol.Order
		require.NoError(t, json.Unmarshal(r.Data, &o))
		return o.TradeID
	}
	stateOf := func(tradeID, want string) {
		t.Helper()
		state := ""
		for deadline := time.Now().Add(20 * time.Second); state != want; time.Sleep(25 * time.Millisecond) {
			r, err := till.Call(ctx, sdk.MethodQueryOrder, map[string]string{"trade_id": tradeID})
			require.NoError(t, err)
			var q struct {
				TransactionInfo protocol.Transaction `json:"transaction_info"`
			}
			require.NoError(t, json.Unmarshal(r.Data, &q))
			state = q.TransactionInfo.State
			require.False(t, time.Now().After(deadline), "order %s still %s, want %s", tradeID, state, want)
		}
	}
	next := func(action string) {
		t.Helper()
		code, s := controlDo(t, "POST", ctl+"/v1/next", action)
		require.Equal(t, http.StatusOK, code, s.Error)
	}

	for _, c := range []struct{ action, operation, want string }{
		{`{"do":"tap","brand":"visa","entry_mode":"contactless"}`, "1", "paid"},
		{`{"do":"decline"}`, "1", "declined"},
		{`{"do":"cancel"}`, "1", "cancelled"},
		{`{"do":"timeout","delay_ms":0}`, "1", "expired"},
		{`{"do":"fail"}`, "1", "failed"},
		{`{"do":"tap","entry_mode":"chip"}`, "2", "authorized"},
		{`{"do":"decline"}`, "2", "declined"},
	} {
		next(c.action)
		stateOf(pos(c.operation, "7.00"), c.want)
	}

	// No card: the order waits until the merchant cancels it.
	next(`{"do":"no_card"}`)
	trade := pos("1", "7.00")
	time.Sleep(100 * time.Millisecond) // auto-tap (20 ms) would have paid it by now
	stateOf(trade, "processing")
	r, err := till.Call(ctx, sdk.MethodPOSCancel, map[string]string{"tid": "T125119061", "trade_id": trade, "request_id": sdk.NewRequestID()})
	require.NoError(t, err)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	stateOf(trade, "cancelled")

	// The operator refuses a reversal: -4204, the order still paid.
	paid := pos("1", "7.00")
	stateOf(paid, "paid")
	next(`{"do":"decline","delay_ms":0}`)
	r, err = till.Call(ctx, sdk.MethodPOSReversal, map[string]string{"tid": "T125119061", "trade_id": paid, "request_id": sdk.NewRequestID()})
	require.NoError(t, err)
	require.Equal(t, string(protocol.CodeTerminalDeclined), string(r.Code), r.Message)
	stateOf(paid, "paid")

	// A standing behaviour holds for every command until cleared.
	code, s := controlDo(t, "PUT", ctl+"/v1/behaviour", `{"do":"decline"}`)
	require.Equal(t, http.StatusOK, code, s.Error)
	stateOf(pos("1", "7.00"), "declined")
	stateOf(pos("1", "7.00"), "declined")
	code, _ = controlDo(t, "DELETE", ctl+"/v1/behaviour", "")
	require.Equal(t, http.StatusOK, code)
	stateOf(pos("1", "7.00"), "paid")

	// The link dropped: the terminal comes back and takes the next sale.
	code, _ = controlDo(t, "POST", ctl+"/v1/link/drop", "")
	require.Equal(t, http.StatusOK, code)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, s := controlDo(t, "GET", ctl+"/v1/state", "")
		if s.Screen.Online {
			break
		}
		require.False(t, time.Now().After(deadline), "terminal did not come back")
	}
	stateOf(pos("1", "7.00"), "paid")

	_, s = controlDo(t, "GET", ctl+"/v1/state", "")
	require.Empty(t, s.Next, "every queued action was taken")
	// tap, decline and fail reach the acquirer, cancel, timeout and no_card do not:
	// 3 of the table, the reversed one, two standing declines, two after.
	require.Equal(t, 8, s.Acquirer["sale"])
	require.Equal(t, 2, s.Acquirer["authorisation"])
	require.Equal(t, 0, s.Acquirer["reversal"], "a refused reversal never reaches the acquirer")

	code, s = controlDo(t, "POST", ctl+"/v1/tap", "")
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "no command on screen", s.Error)
	code, s = controlDo(t, "POST", ctl+"/v1/next", `{"do":"wave"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, s.Error, `do "wave"`)
}

func TestControlAddrLoopbackOnly(t *testing.T) {
	_, stderr, err := runIn(t, []string{"POSGATE_SECRET=ab"}, "terminal", "--tid", "T1", "--headless", "--control-addr", "0.0.0.0:0")
	require.Error(t, err)
	require.Contains(t, stderr, "not loopback")
	_, stderr, err = runIn(t, []string{"POSGATE_SECRET=ab"}, "terminal", "--tid", "T1", "--control-addr", "127.0.0.1:0")
	require.Error(t, err)
	require.Contains(t, stderr, "--control-addr needs --headless")
}
