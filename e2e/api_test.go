package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/stretchr/testify/require"
)

// rawCall posts body as it is and decodes the envelope.
func rawCall(t *testing.T, url string, body []byte) (int, protocol.Response, http.Header) {
	t.Helper()
	resp, err := http.Post(url+"/Payments", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var env protocol.Response
	require.NoError(t, json.Unmarshal(raw, &env), "body: %s", raw)
	return resp.StatusCode, env, resp.Header
}

// signed builds a request body signed with secret; data values are
// strings.
func signed(user, secret, method string, unix int64, data map[string]string) []byte {
	fields := map[string]string{"user": user, "method": method, "time": strconv.FormatInt(unix, 10)}
	for k, v := range data {
		fields[k] = v
	}
	body, _ := json.Marshal(map[string]any{
		"user": user, "method": method, "time": json.Number(strconv.FormatInt(unix, 10)),
		"sign": protocol.Sign(secret, protocol.StringToSign(fields)), "data": data,
	})
	return body
}

func without(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func with(m map[string]string, key, value string) map[string]string {
	out := without(m, key)
	out[key] = value
	return out
}

func TestBadInputsAnswerWithTheirCodeAndChangeNothing(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T125119061", "")
	now := g.Clock.Now().Unix()
	sale := saleData("T125119061", "12.50")
	rev := map[string]string{"tid": "T125119061", "trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121", "request_id": "a7z1lox4l6z6mdx1udgn5gtezasze1x0"}
	good := signed("T125119061", secret, "v3.POSReversal", now, rev)

	type tc struct {
		name string
		body []byte
		code protocol.Code
	}
	cases := []tc{
		{"bad signature", signed("T125119061", secretFor("other"), "v3.POSReversal", now, rev), protocol.CodeAuthFailed},
		{"unknown user", signed("T999", secret, "v3.POSReversal", now, with(rev, "tid", "T999")), protocol.CodeAuthFailed},
		{"stale time", signed("T125119061", secret, "v3.POSReversal", now-301, rev), protocol.CodeTimeWindow},
		{"future time", signed("T125119061", secret, "v3.POSReversal", now+360, rev), protocol.CodeTimeWindow},
		{"unknown method", signed("T125119061", secret, "v3.Nope", now, rev), protocol.CodeUnknownMethod},
		{"not JSON", []byte("hello"), protocol.CodeBadEnvelope},
		{"JSON array", []byte(`[1,2]`), protocol.CodeBadEnvelope},
		{"data is a string", []byte(`{"user":"T125119061","sign":"x","method":"v3.POS","time":1,"data":"x"}`), protocol.CodeBadEnvelope},
		{"trailing garbage", append(append([]byte{}, good...), []byte(`{}`)...), protocol.CodeBadEnvelope},
		{"ambiguous value", signed("T125119061", secret, "v3.POS", now, with(sale, "description", "x&demo=y")), protocol.CodeInvalidField},
		{"duplicate key", []byte(`{"user":"T125119061","user":"T125119061","sign":"x","method":"v3.POSReversal","time":1,"data":{}}`), protocol.CodeInvalidField},
		{"case twin", []byte(`{"user":"T125119061","sign":"x","method":"v3.POSReversal","time":1,"data":{"trade_id":"a","Trade_id":"b"}}`), protocol.CodeInvalidField},
		{"nested value", []byte(`{"user":"T125119061","sign":"x","method":"v3.POSReversal","time":1,"data":{"trade_id":{"a":1}}}`), protocol.CodeInvalidField},
		{"tid is not user", signed("T125119061", secret, "v3.POSReversal", now, with(rev, "tid", "T2")), protocol.CodeTIDMismatch},
		{"missing user", []byte(`{"sign":"x","method":"v3.POSReversal","time":1,"data":{}}`), protocol.CodeMissingField},
	}
	required := map[string]map[string]string{
		"v3.POS":              sale,
		"v3.POSReversal":      rev,
		"v3.POSCancel":        rev,
		"v3.CancelPayment":    {"trade_id": rev["trade_id"]},
		"v3.QueryOrder":       {"trade_id": rev["trade_id"]},
		"v3.CreateRefund":     {"trade_id": rev["trade_id"], "refund_amount": "1.00", "refund_currency": "EUR", "refund_description": "x", "request_id": rev["request_id"]},
		"v3.QueryRefundOrder": {"refund_id": "x"},
	}
	for method, data := range required {
		for field := range data {
			cases = append(cases, tc{fmt.Sprintf("%s without %s", method, field), signed("T125119061", secret, method, now, without(data, field)), protocol.CodeMissingField})
		}
	}
	before := g.count()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, env, hdr := rawCall(t, g.URL, c.body)
			require.Equal(t, http.StatusOK, status)
			require.False(t, env.Status)
			require.Equal(t, c.code, env.Code, "message: %s", env.Message)
			require.NotEmpty(t, env.Message)
			require.Nil(t, env.Data)
			require.NotEmpty(t, env.ResponseID)
			require.Equal(t, env.ResponseID, hdr.Get("X-Request-Id"))
			require.NotContains(t, env.Message, secret)
		})
	}
	require.Equal(t, before, g.count(), "a refused request changed state")

	t.Run("unknown user and bad signature look the same", func(t *testing.T) {
		_, a, _ := rawCall(t, g.URL, cases[0].body)
		_, b, _ := rawCall(t, g.URL, cases[1].body)
		require.Equal(t, a.Message, b.Message)
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		big := signed("T125119061", secret, "v3.POS", now, with(sale, "demo", strings.Repeat("a", 70<<10)))
		status, env, _ := rawCall(t, g.URL, big)
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.Equal(t, protocol.CodeBadEnvelope, env.Code)
	})
	t.Run("upper-case signature and missing content type are accepted", func(t *testing.T) {
		body := signed("T125119061", secret, "v3.QueryOrder", now, map[string]string{"trade_id": rev["trade_id"]})
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		m["sign"] = strings.ToUpper(m["sign"].(string))
		body, _ = json.Marshal(m)
		resp, err := http.Post(g.URL+"/Payments", "", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var env protocol.Response
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
		require.Equal(t, protocol.CodeTradeNotFound, env.Code)
	})
}

func TestExtraFieldsAreSignedAndIgnored(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	data := with(saleData("T1", "12.50"), "x_till_version", "7.3.1")
	body := signed("T1", secret, "v3.POS", g.Clock.Now().Unix(), data)
	_, env, _ := rawCall(t, g.URL, body)
	require.True(t, env.Status, "%s %s", env.Code, env.Message)
	require.Equal(t, protocol.CodeOK, env.Code)
}

func TestTimeWindowIsConfigurable(t *testing.T) {
	g := start(t, func(c *server.Config) { c.TimeWindow = 10 * time.Second })
	secret := g.addTerminal("Shop A", "T1", "")
	body := signed("T1", secret, "v3.QueryOrder", g.Clock.Now().Unix()-11, map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"})
	_, env, _ := rawCall(t, g.URL, body)
	require.Equal(t, protocol.CodeTimeWindow, env.Code)
}

func TestHealthAndMetrics(t *testing.T) {
	g := start(t)
	resp, err := http.Get(g.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rawCall(t, g.URL, []byte("nope"))
	resp, err = http.Get(g.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), `posgate_requests_total{code="-1005",method="unknown"} 1`)
}

// TestCashierCallingATerminalMethod: a cashier that names itself as tid
// is refused as a tid that is not a terminal, not as an internal error.
func TestCashierCallingATerminalMethod(t *testing.T) {
	g := start(t)
	secret := g.addCashier("Shop A", "C1")
	now := g.Clock.Now().Unix()
	before := g.count()
	for method, data := range map[string]map[string]string{
		"v3.POS":         saleData("C1", "12.50"),
		"v3.POSCancel":   {"tid": "C1", "trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121", "request_id": "r1"},
		"v3.POSReversal": {"tid": "C1", "trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121", "request_id": "r2"},
	} {
		_, env, _ := rawCall(t, g.URL, signed("C1", secret, method, now, data))
		require.Equal(t, protocol.CodeTIDMismatch, env.Code, "%s: %s", method, env.Message)
		require.Contains(t, env.Message, "terminal method")
	}
	require.Equal(t, before, g.count())
}

func TestMetricsBehindTheAdminTokenWhenAsked(t *testing.T) {
	g := start(t, func(c *server.Config) { c.MetricsAuth = true })
	get := func(token string) int {
		req, err := http.NewRequest("GET", g.URL+"/metrics", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, get(""))
	require.Equal(t, http.StatusUnauthorized, get("wrong"))
	require.Equal(t, http.StatusOK, get("test-admin-token"))
}
