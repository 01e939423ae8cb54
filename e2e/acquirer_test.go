package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/stretchr/testify/require"
)

// logBuffer collects a gateway's logs; handlers write from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// refundNotifications are the payloads queued for a refund.
func refundNotifications(t *testing.T, g *gateway, refundID string) []map[string]string {
	t.Helper()
	var ns []posgate.Notification
	require.NoError(t, g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
		var err error
		ns, err = tx.Notifications(false, 100)
		return err
	}))
	var out []map[string]string
	for _, n := range ns {
		if n.RefundID == refundID {
			out = append(out, n.Payload)
		}
	}
	return out
}

func TestSimulatedAcquirerIsAnnounced(t *testing.T) {
	var logs logBuffer
	g := start(t, func(c *server.Config) {
		c.Acquirer = acquirer.Simulated{}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "SIMULATED acquirer")
	var ready map[string]string
	require.NoError(t, json.Unmarshal([]byte(get(t, g.URL+"/readyz")), &ready))
	require.Equal(t, map[string]string{"status": "ready", "acquirer": "simulated"}, ready)
	require.Contains(t, get(t, g.URL+"/metrics"), "\nposgate_acquirer_simulated 1\n")

	secret := g.addTerminal("Shop", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	sale := paidSale(t, g, till, "T1")
	r := call(t, till, "v3.CreateRefund", refundData(sale.TradeID, "1.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	rf := refundOf(t, r)
	require.Equal(t, "simulated", rf.Acquirer)
	q := refundOf(t, call(t, till, "v3.QueryRefundOrder", map[string]string{"refund_id": rf.RefundID}))
	require.Equal(t, "simulated", q.Acquirer)
	ns := refundNotifications(t, g, rf.RefundID)
	require.NotEmpty(t, ns)
	for _, n := range ns {
		require.Equal(t, "simulated", n["acquirer"], "signed with the rest: %v", n)
	}
}

// notSimulated stands for a real connector: it refunds like the simulator
// but is not it.
type notSimulated struct{ acquirer.Simulated }

func TestRealAcquirerIsNotMarked(t *testing.T) {
	var logs logBuffer
	g := start(t, func(c *server.Config) {
		c.Acquirer = notSimulated{}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	require.NotContains(t, logs.String(), "SIMULATED")
	require.JSONEq(t, `{"status":"ready"}`, get(t, g.URL+"/readyz"))
	require.Contains(t, get(t, g.URL+"/metrics"), "\nposgate_acquirer_simulated 0\n")

	secret := g.addTerminal("Shop", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	sale := paidSale(t, g, till, "T1")
	r := call(t, till, "v3.CreateRefund", refundData(sale.TradeID, "1.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.NotContains(t, string(r.Data), `"acquirer"`)
	for _, n := range refundNotifications(t, g, refundOf(t, r).RefundID) {
		require.NotContains(t, n, "acquirer")
	}
}

func TestStringToSignLoggedOnlyWhenAsked(t *testing.T) {
	for _, asked := range []bool{true, false} {
		var logs logBuffer
		g := start(t, func(c *server.Config) {
			c.LogStringToSign = asked
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		g.addTerminal("Shop", "T1", "")
		wrong := g.client("T1", secretFor("not T1's"))
		r := call(t, wrong, "v3.QueryOrder", map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"})
		require.Equal(t, protocol.CodeAuthFailed, r.Code)
		if asked {
			require.Regexp(t, `string_to_sign="method=v3.QueryOrder&time=[0-9]+&trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121&user=T1"`, logs.String())
		} else {
			require.NotContains(t, logs.String(), "string_to_sign")
		}
		require.NotContains(t, logs.String(), secretFor("not T1's"))
		require.NotContains(t, logs.String(), secretFor("T1"))
	}
}
