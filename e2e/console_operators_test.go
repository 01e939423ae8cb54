package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/payment"
)

// adminAs calls the operator API with an Authorization header.
func (g *gateway) adminAs(t *testing.T, method, path, auth string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// An operator with their own credential approves a refund in the console
// and replays a notification through the operator API; both are in the
// order's timeline under their name. Removed, they are out at once.
func TestConsoleOperatorsAndAudit(t *testing.T) {
	g := start(t)
	ctx := context.Background()
	secret := g.addTerminal("Shop A", "T1", "")
	_, err := payment.AddCashier(ctx, g.G.Store, g.G.Sealer,
		payment.NewCashier{Merchant: "Shop A", UID: "C1", Secret: secretFor("cashier-C1"), RefundAuthority: posgate.RefundApproval}, g.Clock.Now())
	require.NoError(t, err)
	aliceSecret, err := g.G.Service.AddOperator(ctx, "alice")
	require.NoError(t, err)
	_, err = g.G.Service.AddOperator(ctx, "alice")
	require.ErrorIs(t, err, posgate.ErrDuplicate)
	_, err = g.G.Service.AddOperator(ctx, "admin")
	require.ErrorIs(t, err, posgate.ErrInvalid, "the admin token's name")

	g.connect("T1", secret)
	sale := paidSale(t, g, g.client("T1", secret), "T1")
	r := call(t, g.client("C1", secretFor("cashier-C1")), "v3.CreateRefund", refundData(sale.TradeID, "1.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	ref := refundOf(t, r)

	// The console: a wrong secret is refused, alice's own lets her in.
	anon := consoleClient(t)
	_, page := fetch(t, anon, "GET", g.URL+"/console/login", nil)
	resp, _ := fetch(t, anon, "POST", g.URL+"/console/login", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "operator": {"alice"}, "token": {"test-admin-token"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the admin token is not alice's secret")
	alice := consoleClient(t)
	csrf := consoleLoginAs(t, g, alice, "alice", aliceSecret)
	_, page = fetch(t, alice, "GET", g.URL+"/console/refunds", nil)
	require.Contains(t, page, `id="operator-name">alice<`)
	resp, _ = fetch(t, alice, "POST", g.URL+"/console/refunds/"+ref.RefundID+"/approve", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// The operator API takes NAME:SECRET as the bearer credential.
	bearer := "Bearer alice:" + aliceSecret
	var bad map[string]string
	require.Equal(t, http.StatusUnauthorized, g.adminAs(t, "GET", "/admin/v1/terminals", "Bearer alice:pgo_wrong", &bad))
	require.Equal(t, http.StatusUnauthorized, g.adminAs(t, "GET", "/admin/v1/terminals", "Bearer bob:"+aliceSecret, &bad))
	var notes struct {
		Notifications []struct {
			ID      string `json:"id"`
			TradeID string `json:"trade_id"`
		} `json:"notifications"`
	}
	require.Equal(t, http.StatusOK, g.adminAs(t, "GET", "/admin/v1/notifications", bearer, &notes))
	var saleNote string
	for _, n := range notes.Notifications {
		if n.TradeID == sale.TradeID {
			saleNote = n.ID
		}
	}
	require.NotEmpty(t, saleNote)
	require.Equal(t, http.StatusAccepted, g.adminAs(t, "POST", "/admin/v1/notifications/"+saleNote+"/replay", bearer, nil))

	var tl httpapi.OrderTimeline
	require.Equal(t, http.StatusOK, g.adminAs(t, "GET", "/admin/v1/orders/"+sale.TradeID, "Bearer test-admin-token", &tl), "the admin token still works")
	var acts []httpapi.TimelineEntryView
	for _, e := range tl.Timeline {
		if e.Kind == "operator_action" {
			acts = append(acts, e)
		}
	}
	require.Len(t, acts, 2, "%+v", tl.Timeline)
	require.Equal(t, "alice", acts[0].Operator)
	require.Equal(t, "refund_approve", acts[0].Action)
	require.Equal(t, ref.RefundID, acts[0].RefundID)
	require.Equal(t, "operator alice approved refund "+ref.RefundID, acts[0].Summary)
	require.Equal(t, "notification_replay", acts[1].Action)
	require.Equal(t, saleNote, acts[1].NotificationID)
	require.Equal(t, "alice", acts[1].Operator)
	require.False(t, acts[1].At.Before(acts[0].At))

	// The metrics saw the refund's outcome and the failed deliveries (the
	// merchant's host does not resolve).
	require.Equal(t, 1.0, g.metric(t, `posgate_refunds_total{outcome="refunded"}`))
	for deadline := time.Now().Add(10 * time.Second); g.metric(t, `posgate_notification_attempts_total{result="failed"}`) < 1; time.Sleep(10 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "no failed attempt counted")
	}
	require.Equal(t, 0.0, g.metric(t, `posgate_notification_attempts_total{result="delivered"}`))

	// Removed: the session and the bearer credential stop at once.
	require.NoError(t, g.G.Service.RemoveOperator(ctx, "alice"))
	resp, _ = fetch(t, alice, "GET", g.URL+"/console/refunds", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "to the login page")
	require.Equal(t, http.StatusUnauthorized, g.adminAs(t, "GET", "/admin/v1/terminals", bearer, &bad))
}
