package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/sdk"
)

// TestOrdersCommands reads, with the operator commands, the orders a
// serving gateway made on the same database.
func TestOrdersCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("33", 32)}
	secret := strings.Repeat("ab", 32)
	for _, tid := range []string{"T1", "T2"} {
		_, stderr, err := runIn(t, env, "terminals", "add", "--db", db, "--merchant", "Shop", "--tid", tid, "--secret", secret)
		require.NoError(t, err, stderr)
	}
	m, _, _ := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db)
	base := m[1]
	started(t, regexp.MustCompile(`screen=idle tid=T1`), nil, "terminal", "--server", base, "--tid", "T1", "--secret", secret, "--headless")

	ctx := context.Background()
	till := sdk.New(base, "T1", secret)
	sale, err := till.POS(ctx, &sdk.POSRequest{OrderID: "4711", Amount: "20.00", Currency: "EUR", Description: "x", NotifyURL: "https://merchant.example/notify"})
	require.NoError(t, err)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		q, err := till.QueryOrder(ctx, sale.TradeID)
		require.NoError(t, err)
		if q.State == sdk.StatePaid {
			break
		}
		require.True(t, time.Now().Before(deadline), "never paid: %s", q.State)
	}

	out, stderr, err := runIn(t, env, "orders", "show", "--db", db, sale.TradeID)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "trade_id="+sale.TradeID+" order_id=4711 tid=T1 state=paid amount=20.00 EUR")
	require.Regexp(t, `(?s)request\s+v3\.POS request_id=\S+ by T1.*order_created.*command\s+sale command \S+ sent to T1.*result\s+sale result approved`, out)

	out, stderr, err = runIn(t, env, "orders", "show", "--db", db, "-o", "json", sale.TradeID)
	require.NoError(t, err, stderr)
	var tl httpapi.OrderTimeline
	require.NoError(t, json.Unmarshal([]byte(out), &tl))
	require.Equal(t, "paid", tl.Order.State)
	require.Equal(t, "request", tl.Timeline[0].Kind)
	require.Equal(t, "v3.POS", tl.Timeline[0].Method)

	_, _, err = runIn(t, env, "orders", "show", "--db", db, "00000000-0000-0000-0000-000000000000")
	require.Error(t, err)

	out, stderr, err = runIn(t, env, "orders", "list", "--db", db, "--tid", "T1", "--state", "paid")
	require.NoError(t, err, stderr)
	require.Regexp(t, `(?m)^`+sale.TradeID+`\s+4711\s+T1\s+paid\s+20\.00\s+EUR\s`, out)
	out, stderr, err = runIn(t, env, "orders", "list", "--db", db, "--tid", "T2")
	require.NoError(t, err, stderr)
	require.NotContains(t, out, sale.TradeID)
	out, stderr, err = runIn(t, env, "orders", "list", "--db", db, "-o", "json", "--from", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	require.NoError(t, err, stderr)
	require.Contains(t, out, `"trade_id": "`+sale.TradeID+`"`)
	_, stderr, err = runIn(t, env, "orders", "list", "--db", db, "--state", "lost")
	require.Error(t, err)
	require.Contains(t, stderr, "state must be one of")
}
