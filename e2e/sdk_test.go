package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/stretchr/testify/require"
)

// The merchant SDK against a real gateway and a simulated terminal.

func sdkSale(tid string) *sdk.POSRequest {
	d := saleData(tid, "12.50")
	return &sdk.POSRequest{OrderID: d["order_id"], Amount: sdk.FormatAmount(1250, "EUR"), Currency: "EUR",
		Description: "sdk sale", NotifyURL: d["notify_url"]}
}

// sdkWaitState polls QueryOrder through the typed method.
func sdkWaitState(t *testing.T, c *sdk.Client, tradeID, state string) *sdk.Transaction {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, err := c.QueryOrder(context.Background(), tradeID)
		require.NoError(t, err)
		if tx.State == state {
			return tx
		}
		require.False(t, time.Now().After(deadline), "order %s is %s, want %s", tradeID, tx.State, state)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSDKSaleQueryReversal(t *testing.T) {
	t.Parallel()
	g := start(t)
	secret := g.addTerminal("Shop A", "TSDK1", "")
	g.connect("TSDK1", secret)
	till := g.client("TSDK1", secret)
	ctx := context.Background()

	sale := sdkSale("TSDK1")
	o, err := till.POS(ctx, sale)
	require.NoError(t, err)
	require.Equal(t, sdk.StateProcessing, o.State)
	require.Equal(t, "12.50", o.Amount)
	require.NotEmpty(t, sale.RequestID, "the generated request_id is handed back")
	tx := sdkWaitState(t, till, o.TradeID, sdk.StatePaid)
	require.Equal(t, "TSDK1", tx.TID)
	require.Equal(t, "0.00", tx.RefundedAmount)

	// A till that lost the answer repeats the request as it was: the
	// gateway does not sell twice and says how the first one ended.
	_, err = till.POS(ctx, sale)
	require.ErrorIs(t, err, sdk.ErrDuplicateRequest)
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	prev, ok := e.Order()
	require.True(t, ok, "data: %s", e.Data)
	require.Equal(t, o.TradeID, prev.TradeID)
	require.Equal(t, sdk.StatePaid, prev.State)

	rev, err := till.POSReversal(ctx, &sdk.POSReversalRequest{TradeID: o.TradeID})
	require.NoError(t, err)
	require.Equal(t, sdk.StateCancelled, rev.State)
	sdkWaitState(t, till, o.TradeID, sdk.StateCancelled)

	_, err = till.POSReversal(ctx, &sdk.POSReversalRequest{TradeID: o.TradeID})
	require.ErrorIs(t, err, sdk.ErrAlreadyCancelled)
	require.ErrorAs(t, err, &e)
	require.NotEmpty(t, e.ResponseID)
}

func TestSDKRefund(t *testing.T) {
	t.Parallel()
	g := start(t)
	secret := g.addTerminal("Shop A", "TSDK2", "")
	cashier := g.client("016601", g.addCashier("Shop A", "016601"))
	g.connect("TSDK2", secret)
	till := g.client("TSDK2", secret)
	ctx := context.Background()
	o, err := till.POS(ctx, sdkSale("TSDK2"))
	require.NoError(t, err)
	sdkWaitState(t, till, o.TradeID, sdk.StatePaid)

	req := &sdk.RefundRequest{TradeID: o.TradeID, Amount: sdk.FormatAmount(500, "EUR"), Currency: "EUR", Description: "one drink returned", MRefundID: "R-1"}
	rf, err := cashier.CreateRefund(ctx, req)
	require.NoError(t, err)
	require.NotEmpty(t, rf.RefundID)
	require.Equal(t, "5.00", rf.RefundAmount)
	require.Equal(t, "R-1", string(rf.MRefundID))

	got, err := cashier.QueryRefundOrder(ctx, rf.RefundID)
	require.NoError(t, err)
	require.Equal(t, rf.RefundID, got.RefundID)
	require.Equal(t, o.TradeID, got.TradeID)
	require.Equal(t, "refunded", got.State)
	require.Equal(t, "5.00", sdkWaitState(t, cashier, o.TradeID, sdk.StatePaid).RefundedAmount)

	_, err = cashier.CreateRefund(ctx, &sdk.RefundRequest{TradeID: o.TradeID, Amount: "10.00", Currency: "EUR", Description: "too much"})
	require.ErrorIs(t, err, sdk.ErrRefundNotAllowed)
	_, err = till.POSReversal(ctx, &sdk.POSReversalRequest{TradeID: o.TradeID})
	require.ErrorIs(t, err, sdk.ErrNotCancellable, "a refunded order is not reversed")
}

func TestSDKErrorCodes(t *testing.T) {
	t.Parallel()
	g := start(t)
	secret := g.addTerminal("Shop A", "TSDK3", "")
	g.addTerminal("Shop A", "TSDK4", "")
	till := g.client("TSDK3", secret)
	ctx := context.Background()

	_, err := till.POS(ctx, sdkSale("TSDK3"))
	require.ErrorIs(t, err, sdk.ErrTerminalOffline)

	_, err = till.QueryOrder(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, sdk.ErrTradeNotFound)

	_, err = till.POSReversal(ctx, &sdk.POSReversalRequest{TID: "TSDK4", TradeID: "00000000-0000-0000-0000-000000000000"})
	require.ErrorIs(t, err, sdk.ErrTIDMismatch)

	bad := sdkSale("TSDK3")
	bad.Amount = "12.505"
	_, err = till.POS(ctx, bad)
	require.ErrorIs(t, err, sdk.ErrInvalidField)

	_, err = g.client("TSDK3", secretFor("not it")).QueryOrder(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, sdk.ErrAuthFailed)

	late := g.client("TSDK3", secret)
	late.Now = func() time.Time { return g.Clock.Now().Add(10 * time.Minute) }
	_, err = late.CancelPayment(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, sdk.ErrTimeWindow)
	require.NotErrorIs(t, err, sdk.ErrAuthFailed)
}

// TestSDKNotificationHandler: the handler accepts the notifications the
// gateway really sends, makes it deliver again while the merchant's
// callback fails, and refuses a delivered body with one byte flipped.
func TestSDKNotificationHandler(t *testing.T) {
	t.Parallel()
	g := start(t, func(c *server.Config) {
		c.AllowPrivateNotify = true
		c.NotifyDelays = []time.Duration{20 * time.Millisecond}
	})
	secret := g.addTerminal("Shop A", "TSDK5", "")
	g.connect("TSDK5", secret)
	till := g.client("TSDK5", secret)

	var mu sync.Mutex
	var bodies [][]byte
	var accepted []sdk.Notification
	failPaidOnce := true
	paid := make(chan sdk.Notification, 1)
	handler := sdk.NotificationHandler(sdk.SecretMap(map[string]string{"TSDK5": secret}), func(n sdk.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if n.State() == sdk.StatePaid && failPaidOnce {
			failPaidOnce = false
			return errors.New("database unavailable")
		}
		accepted = append(accepted, n)
		if n.State() == sdk.StatePaid {
			paid <- n
		}
		return nil
	})
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(merchant.Close)

	sale := sdkSale("TSDK5")
	sale.NotifyURL = merchant.URL + "/notify"
	o, err := till.POS(context.Background(), sale)
	require.NoError(t, err)

	var n sdk.Notification
	select {
	case n = <-paid:
	case <-time.After(20 * time.Second):
		t.Fatal("no paid notification accepted")
	}
	require.Equal(t, o.TradeID, n.TradeID())
	require.Equal(t, "payment", n.Type())
	require.Equal(t, "12.50", n.Data["amount"])
	require.NotEmpty(t, n.ID, "Webhook-Id is handed to the callback")

	mu.Lock()
	var real []byte
	for _, b := range bodies {
		if bytes.Contains(b, []byte(`"paid"`)) {
			real = b
		}
	}
	before := len(accepted)
	mu.Unlock()
	require.NotNil(t, real)

	post := func(body []byte) int {
		resp, err := http.Post(merchant.URL+"/notify", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	i := bytes.Index(real, []byte("12.50"))
	require.Positive(t, i)
	forged := bytes.Clone(real)
	forged[i] = '9'
	require.Equal(t, http.StatusUnauthorized, post(forged))
	mu.Lock()
	require.Len(t, accepted, before, "the forged body never reaches the callback")
	mu.Unlock()
}
