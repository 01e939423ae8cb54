package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/sqlite"
)

func authChangeData(tradeID, amount string) map[string]string {
	return map[string]string{"trade_id": tradeID, "amount": amount, "currency": "EUR", "description": "hotel stay",
		"notify_url": "https://backoffice.example/notify", "request_id": sdk.NewRequestID()}
}

// authorised runs a pre-authorisation (v3.POS operation 2) of amount on
// the terminal to the end.
func authorised(t *testing.T, till *sdk.Client, tid, amount string) sdk.Order {
	t.Helper()
	d := saleData(tid, amount)
	d["operation"] = "2"
	r := call(t, till, "v3.POS", d)
	require.True(t, r.Status, "authorisation: %s %s", r.Code, r.Message)
	o := orderOf(t, r)
	waitState(t, till, o.TradeID, "authorized")
	return o
}

func changeAuth(t *testing.T, c *sdk.Client, method string, data map[string]string) sdk.Order {
	t.Helper()
	r := call(t, c, method, data)
	require.True(t, r.Status, "%s %s: %s %s", method, data["amount"], r.Code, r.Message)
	return orderOf(t, r)
}

func refusedAuth(t *testing.T, c *sdk.Client, method string, code protocol.Code, data map[string]string) *sdk.Response {
	t.Helper()
	r := call(t, c, method, data)
	require.False(t, r.Status, "%s %s should be refused", method, data["amount"])
	require.Equal(t, code, r.Code, r.Message)
	return r
}

// countCaptures counts the captures table's rows by state.
func (g *gateway) countCaptures() map[string]int {
	g.t.Helper()
	rows, err := g.G.Store.(*sqlite.Store).DB().Query("SELECT state, count(*) FROM captures GROUP BY state")
	require.NoError(g.t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(g.t, rows.Scan(&s, &n))
		out[s] = n
	}
	require.NoError(g.t, rows.Err())
	return out
}

// countDecrements counts the decrements table's rows by state.
func (g *gateway) countDecrements() map[string]int {
	g.t.Helper()
	rows, err := g.G.Store.(*sqlite.Store).DB().Query("SELECT state, count(*) FROM decrements GROUP BY state")
	require.NoError(g.t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(g.t, rows.Scan(&s, &n))
		out[s] = n
	}
	require.NoError(g.t, rows.Err())
	return out
}

// notified lists the notifications queued for an order: where to, signed
// by whom, and the state and amount they carry.
func (g *gateway) notified(tradeID string) []string {
	g.t.Helper()
	rows, err := g.G.Store.(*sqlite.Store).DB().Query("SELECT notify_url, user, payload FROM notifications WHERE trade_id = ? ORDER BY created_at, rowid", tradeID)
	require.NoError(g.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var url, user, payload string
		require.NoError(g.t, rows.Scan(&url, &user, &payload))
		var p map[string]string
		require.NoError(g.t, json.Unmarshal([]byte(payload), &p))
		out = append(out, url+" "+user+" "+p["state"]+" "+p["amount"])
	}
	require.NoError(g.t, rows.Err())
	return out
}

func TestCaptureThenRefund(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Hotel", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Hotel", "C1"))

	// Partial capture by a cashier: the order is paid for what was taken.
	auth := authorised(t, till, "T1", "12.50")
	paid := changeAuth(t, cashier, "v3.Capture", authChangeData(auth.TradeID, "10"))
	require.Equal(t, "paid", paid.State)
	require.Equal(t, "10.00", paid.Amount)
	require.NotEmpty(t, paid.PaidTime)
	info := queryOrder(t, till, auth.TradeID)
	require.Equal(t, "paid", info.State)
	require.Equal(t, "10.00", info.Amount)
	require.Equal(t, map[string]int{"captured": 1}, g.countCaptures())
	require.Equal(t, []string{
		"https://merchant.example/notify T1 processing 12.50",
		"https://merchant.example/notify T1 authorized 12.50",
		"https://merchant.example/notify T1 paid 10.00",
		"https://backoffice.example/notify C1 paid 10.00",
	}, g.notified(auth.TradeID), "the order's endpoint, then the capture's, signed by its requester")

	// Refunds follow the refund rules on the captured amount.
	refunded(t, cashier, auth.TradeID, "4")
	refusedRefund(t, cashier, protocol.CodeRefundNotAllowed, refundData(auth.TradeID, "6.01"))
	refunded(t, cashier, auth.TradeID, "6")
	require.Equal(t, "10.00", queryOrder(t, till, auth.TradeID).RefundedAmount)

	// Full capture by the order's own terminal, through the SDK.
	full := authorised(t, till, "T1", "7.30")
	o, err := till.Capture(context.Background(), &sdk.AuthChangeRequest{TradeID: full.TradeID, Amount: "7.30", Currency: "EUR", Description: "fuel", NotifyURL: "https://merchant.example/notify"})
	require.NoError(t, err)
	require.Equal(t, "paid", o.State)
	require.Equal(t, "7.30", o.Amount)
	require.Equal(t, []string{
		"https://merchant.example/notify T1 processing 7.30",
		"https://merchant.example/notify T1 authorized 7.30",
		"https://merchant.example/notify T1 paid 7.30",
	}, g.notified(full.TradeID), "one notification when the capture's endpoint and signer are the order's")

	// A captured authorisation is neither reversed nor cancelled: refund it.
	r := call(t, till, "v3.POSReversal", map[string]string{"tid": "T1", "trade_id": full.TradeID, "request_id": sdk.NewRequestID()})
	require.Equal(t, protocol.CodeNotCancellable, r.Code, r.Message)
	r = call(t, cashier, "v3.CancelPayment", map[string]string{"trade_id": full.TradeID})
	require.Equal(t, protocol.CodeNotCancellable, r.Code, r.Message)
	_, err = till.Capture(context.Background(), &sdk.AuthChangeRequest{TradeID: full.TradeID, Amount: "1", Currency: "EUR", Description: "again", NotifyURL: "https://merchant.example/notify"})
	require.ErrorIs(t, err, sdk.ErrCaptureRefused, "once")
	refusedRefund(t, cashier, protocol.CodeRefundNotAllowed, refundData(full.TradeID, "7.31"))
	refunded(t, cashier, full.TradeID, "7.30")
	require.Equal(t, "7.30", queryOrder(t, till, full.TradeID).RefundedAmount, "the full capture refunded whole")

	// The metrics: two captures and three refunds made, two authorisations
	// approved by the terminal.
	require.Equal(t, 2.0, g.metric(t, `posgate_captures_total{outcome="captured"}`))
	require.Equal(t, 0.0, g.metric(t, `posgate_captures_total{outcome="error"}`))
	require.Equal(t, 3.0, g.metric(t, `posgate_refunds_total{outcome="refunded"}`))
	require.Equal(t, 2.0, g.metric(t, `posgate_commands_total{kind="authorisation",outcome="approved"}`))
}

func TestDecrementTwiceThenCapture(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Car rental", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Car rental", "C1"))
	auth := authorised(t, till, "T1", "12.50")

	o := changeAuth(t, cashier, "v3.PreauthDecrement", authChangeData(auth.TradeID, "2"))
	require.Equal(t, "authorized", o.State)
	require.Equal(t, "10.50", o.Amount, "amount is the reduction; the answer has what remains")
	o2, err := till.PreauthDecrement(context.Background(), &sdk.AuthChangeRequest{TradeID: auth.TradeID, Amount: "0.5", Currency: "EUR", Description: "fuel back", NotifyURL: "https://backoffice.example/notify"})
	require.NoError(t, err)
	require.Equal(t, "10.00", o2.Amount)
	require.Equal(t, "10.00", queryOrder(t, till, auth.TradeID).Amount)

	before, decs := g.count(), g.countDecrements()
	require.Equal(t, map[string]int{"decremented": 2}, decs)
	refusedAuth(t, cashier, "v3.PreauthDecrement", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "10"))
	refusedAuth(t, cashier, "v3.PreauthDecrement", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "9.91"))
	refusedAuth(t, cashier, "v3.Capture", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "10.01"))
	require.Equal(t, before, g.count(), "refusals write nothing")
	require.Equal(t, decs, g.countDecrements())

	// A decrement the acquirer declines gives the reduction back.
	r := refusedAuth(t, cashier, "v3.PreauthDecrement", protocol.CodeAcquirerDeclined, authChangeData(auth.TradeID, "2.05"))
	require.Equal(t, "10.00", orderOf(t, r).Amount)
	require.Equal(t, "10.00", queryOrder(t, till, auth.TradeID).Amount)

	o = changeAuth(t, cashier, "v3.Capture", authChangeData(auth.TradeID, "10"))
	require.Equal(t, "paid", o.State)
	require.Equal(t, "10.00", o.Amount)
	refusedAuth(t, cashier, "v3.PreauthDecrement", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "1"))

	// The operator's timeline lists each decrement with the authorised
	// amount before and after it, and the capture.
	var tl struct {
		Timeline []struct {
			Kind             string `json:"kind"`
			Summary          string `json:"summary"`
			State            string `json:"state"`
			Amount           string `json:"amount"`
			DecrementID      string `json:"decrement_id"`
			CaptureID        string `json:"capture_id"`
			AuthorisedBefore string `json:"authorised_before"`
			AuthorisedAfter  string `json:"authorised_after"`
			AuthorisedAmount string `json:"authorised_amount"`
			Caller           string `json:"caller"`
		} `json:"timeline"`
	}
	require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/orders/"+auth.TradeID, &tl))
	var got []string
	for _, e := range tl.Timeline {
		switch e.Kind {
		case "decrement", "decrement_finished":
			require.NotEmpty(t, e.DecrementID)
			got = append(got, strings.Join([]string{e.Kind, e.State, e.Amount, e.AuthorisedBefore, e.AuthorisedAfter, e.Caller}, " "))
		case "capture", "capture_finished":
			require.NotEmpty(t, e.CaptureID)
			got = append(got, strings.Join([]string{e.Kind, e.State, e.Amount, e.AuthorisedAmount, e.Caller}, " "))
		}
	}
	require.Equal(t, []string{
		"decrement decremented 2.00 EUR 12.50 EUR 10.50 EUR C1",
		"decrement_finished decremented 2.00 EUR 12.50 EUR 10.50 EUR C1",
		"decrement decremented 0.50 EUR 10.50 EUR 10.00 EUR T1",
		"decrement_finished decremented 0.50 EUR 10.50 EUR 10.00 EUR T1",
		"decrement failed 2.05 EUR 10.00 EUR 7.95 EUR C1",
		"decrement_finished failed 2.05 EUR 10.00 EUR 7.95 EUR C1",
		"capture captured 10.00 EUR 10.00 EUR C1",
		"capture_finished captured 10.00 EUR 10.00 EUR C1",
	}, got)
}

// Concurrent decrements of one authorisation through the API: each that
// fits is made once, the rest are refused, and the authorised amount ends
// at the sum's remainder, never below the currency's minimum.
func TestConcurrentDecrements(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Fuel", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Fuel", "C1"))
	auth := authorised(t, till, "T1", "12.50")

	const n = 10 // 2.00 each: six fit (0.50 remains), four cannot
	answers := make([]*sdk.Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := cashier
		if i%2 == 1 {
			c = till
		}
		wg.Go(func() {
			<-start
			answers[i], errs[i] = c.Call(context.Background(), "v3.PreauthDecrement", authChangeData(auth.TradeID, "2"))
		})
	}
	close(start)
	wg.Wait()
	made := 0
	for i, r := range answers {
		require.NoError(t, errs[i])
		if r.Status {
			made++
			continue
		}
		require.Equal(t, protocol.CodeCaptureRefused, r.Code, r.Message)
	}
	require.Equal(t, 6, made)
	require.Equal(t, map[string]int{"decremented": 6}, g.countDecrements())
	require.Equal(t, "0.50", queryOrder(t, till, auth.TradeID).Amount)
}

func TestConcurrentCapturesOneWins(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Hotel", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Hotel", "C1"))
	auth := authorised(t, till, "T1", "12.50")

	const n = 20
	answers := make([]*sdk.Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c, d := cashier, authChangeData(auth.TradeID, "12.50")
		if i%2 == 1 {
			c, d["amount"] = till, "11"
		}
		wg.Go(func() {
			<-start
			answers[i], errs[i] = c.Call(context.Background(), "v3.Capture", d)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, r := range answers {
		require.NoError(t, errs[i])
		if r.Status {
			won++
			continue
		}
		require.Equal(t, protocol.CodeCaptureRefused, r.Code, r.Message)
	}
	require.Equal(t, 1, won)
	require.Equal(t, map[string]int{"captured": 1}, g.countCaptures())
	require.Equal(t, "paid", queryOrder(t, till, auth.TradeID).State)
}

func TestCaptureRefusals(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Hotel", "T1", "")
	g.connect("T1", secret)
	t2 := g.client("T2", g.addTerminal("Hotel", "T2", ""))
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Hotel", "C1"))
	stranger := g.client("CX", g.addCashier("Other shop", "CX"))
	auth := authorised(t, till, "T1", "12.50")
	sale := paidSale(t, g, till, "T1")
	authorisation := func(o *posgate.Order) {
		o.Operation, o.NotifyURL = posgate.OpAuthorisation, "https://merchant.example/notify"
	}
	old := g.seedOrder("T1", posgate.StateAuthorized, authorisation, func(o *posgate.Order) {
		at := g.Clock.Now().UTC().Add(-posgate.AuthorisationValidity)
		o.PaidAt = &at
	})

	usd := authChangeData(auth.TradeID, "1")
	usd["currency"] = "USD"
	noRequestID := authChangeData(auth.TradeID, "1")
	delete(noRequestID, "request_id")
	for _, tc := range []struct {
		name   string
		c      *sdk.Client
		method string
		code   protocol.Code
		data   map[string]string
	}{
		{"over the authorised amount", cashier, "v3.Capture", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "12.51")},
		{"another currency", cashier, "v3.Capture", protocol.CodeCaptureRefused, usd},
		{"below the minimum", cashier, "v3.Capture", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "0.09")},
		{"amount format", cashier, "v3.Capture", protocol.CodeInvalidField, authChangeData(auth.TradeID, "1.001")},
		{"request_id required", cashier, "v3.Capture", protocol.CodeMissingField, noRequestID},
		{"another merchant", stranger, "v3.Capture", protocol.CodeTradeNotFound, authChangeData(auth.TradeID, "1")},
		{"another terminal", t2, "v3.Capture", protocol.CodeTradeNotFound, authChangeData(auth.TradeID, "1")},
		{"a sale", cashier, "v3.Capture", protocol.CodeCaptureRefused, authChangeData(sale.TradeID, "1")},
		{"30 days after the authorisation", cashier, "v3.Capture", protocol.CodeExpired, authChangeData(old.TradeID, "1")},
		{"decrement after 30 days", cashier, "v3.PreauthDecrement", protocol.CodeExpired, authChangeData(old.TradeID, "1")},
		{"decrement to zero", cashier, "v3.PreauthDecrement", protocol.CodeCaptureRefused, authChangeData(auth.TradeID, "12.50")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, captures, decs := g.count(), g.countCaptures(), g.countDecrements()
			refusedAuth(t, tc.c, tc.method, tc.code, tc.data)
			require.Equal(t, before, g.count(), "nothing written")
			require.Equal(t, captures, g.countCaptures())
			require.Equal(t, decs, g.countDecrements())
		})
	}

	// The acquirer declines: nothing moved, the order stays authorized and
	// may be captured again.
	r := refusedAuth(t, cashier, "v3.Capture", protocol.CodeAcquirerDeclined, authChangeData(auth.TradeID, "2.05"))
	require.Equal(t, "authorized", orderOf(t, r).State)
	require.Equal(t, map[string]int{"failed": 1}, g.countCaptures())

	// An exact repeat answers -3002 with the order as it is now.
	data := authChangeData(auth.TradeID, "12")
	changeAuth(t, cashier, "v3.Capture", data)
	r = refusedAuth(t, cashier, "v3.Capture", protocol.CodeDuplicateRequest, data)
	require.Equal(t, "paid", orderOf(t, r).State)
	require.Equal(t, "12.00", orderOf(t, r).Amount)

	// The acquirer's answer is unknown: the capture holds the order's one
	// capture until support looks.
	unknown := authorised(t, till, "T1", "5")
	r = refusedAuth(t, cashier, "v3.Capture", protocol.CodeAcquirerUnknown, authChangeData(unknown.TradeID, "2.06"))
	require.Equal(t, "authorized", orderOf(t, r).State)
	refusedAuth(t, cashier, "v3.Capture", protocol.CodeCaptureRefused, authChangeData(unknown.TradeID, "1"))
	r = call(t, cashier, "v3.CancelPayment", map[string]string{"trade_id": unknown.TradeID})
	require.Equal(t, protocol.CodeNotCancellable, r.Code, r.Message)
}

func TestAuthorisationExpiry(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Hotel", "T1", "")
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Hotel", "C1"))
	now := g.Clock.Now().UTC()
	authorisation := func(at time.Time) func(o *posgate.Order) {
		return func(o *posgate.Order) {
			o.Operation, o.NotifyURL, o.PaidAt = posgate.OpAuthorisation, "https://merchant.example/notify", &at
		}
	}
	stale := g.seedOrder("T1", posgate.StateAuthorized, authorisation(now.Add(-posgate.AuthorisationValidity-time.Minute)))
	fresh := g.seedOrder("T1", posgate.StateAuthorized, authorisation(now.Add(-posgate.AuthorisationValidity+time.Hour)))

	waitState(t, till, stale.TradeID, "expired")
	require.Equal(t, []string{"https://merchant.example/notify T1 expired 12.50"}, g.notified(stale.TradeID))
	refusedAuth(t, cashier, "v3.Capture", protocol.CodeExpired, authChangeData(stale.TradeID, "1"))
	require.Equal(t, "authorized", queryOrder(t, till, fresh.TradeID).State)

	// An hour later (injected clock) the other one has run out too.
	g.Clock.Set(g.Clock.Now().Add(time.Hour + time.Minute))
	waitState(t, till, fresh.TradeID, "expired")
	require.Len(t, g.notified(fresh.TradeID), 1)
	refusedAuth(t, cashier, "v3.Capture", protocol.CodeExpired, authChangeData(fresh.TradeID, "1"))
}

// An uncaptured authorisation is still released whole as before: by a
// reversal on the terminal, and by a silent cancel after a decrement; a
// capture of either then answers -4116 and writes nothing.
func TestAuthorisationReleasedWhole(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Hotel", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Hotel", "C1"))

	reversed := authorised(t, till, "T1", "40.00")
	r := call(t, till, "v3.POSReversal", reversal("T1", reversed.TradeID))
	require.True(t, r.Status, "reversal: %s %s", r.Code, r.Message)
	waitState(t, till, reversed.TradeID, "cancelled")

	cancelled := authorised(t, till, "T1", "40.00")
	changeAuth(t, cashier, "v3.PreauthDecrement", authChangeData(cancelled.TradeID, "15"))
	r = call(t, cashier, "v3.CancelPayment", map[string]string{"trade_id": cancelled.TradeID})
	require.True(t, r.Status, "silent cancel: %s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", queryOrder(t, till, cancelled.TradeID).State)

	for _, o := range []sdk.Order{reversed, cancelled} {
		before, captures, decs := g.count(), g.countCaptures(), g.countDecrements()
		refusedAuth(t, cashier, "v3.Capture", protocol.CodeAlreadyCancelled, authChangeData(o.TradeID, "10"))
		refusedAuth(t, cashier, "v3.PreauthDecrement", protocol.CodeAlreadyCancelled, authChangeData(o.TradeID, "1"))
		require.Equal(t, before, g.count(), "nothing written")
		require.Equal(t, captures, g.countCaptures())
		require.Equal(t, decs, g.countDecrements())
	}
}
