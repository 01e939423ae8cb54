package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/sqlite"
)

func refundData(tradeID, amount string) map[string]string {
	return map[string]string{"trade_id": tradeID, "refund_amount": amount, "refund_currency": "EUR",
		"refund_description": "returned goods", "notify_url": "https://merchant.example/refund", "request_id": sdk.NewRequestID()}
}

func refundOf(t *testing.T, r *sdk.Response) sdk.Refund {
	t.Helper()
	var d sdk.Refund
	require.NoError(t, json.Unmarshal(r.Data, &d), "data: %s", r.Data)
	return d
}

func refunded(t *testing.T, c *sdk.Client, tradeID, amount string) sdk.Refund {
	t.Helper()
	r := call(t, c, "v3.CreateRefund", refundData(tradeID, amount))
	require.True(t, r.Status, "refund %s: %s %s", amount, r.Code, r.Message)
	d := refundOf(t, r)
	require.Equal(t, "refunded", d.State, d.Message)
	return d
}

func refusedRefund(t *testing.T, c *sdk.Client, code protocol.Code, data map[string]string) string {
	t.Helper()
	r := call(t, c, "v3.CreateRefund", data)
	require.False(t, r.Status)
	require.Equal(t, code, r.Code, r.Message)
	return r.Message
}

// raceRefunds sends n requests made by data at once and returns their answers.
func raceRefunds(t *testing.T, n int, data func() map[string]string, c *sdk.Client) []*sdk.Response {
	t.Helper()
	out := make([]*sdk.Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		d := data()
		wg.Go(func() {
			<-start
			out[i], errs[i] = c.Call(context.Background(), "v3.CreateRefund", d)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

func (g *gateway) countRefunds() int {
	g.t.Helper()
	var n int
	require.NoError(g.t, g.G.Store.(*sqlite.Store).DB().QueryRow("SELECT count(*) FROM refunds").Scan(&n))
	return n
}

func (g *gateway) addCashierWith(merchant, uid string, authority posgate.RefundAuthority) string {
	g.t.Helper()
	secret := secretFor("cashier-" + uid)
	_, err := payment.AddCashier(context.Background(), g.G.Store, g.G.Sealer,
		payment.NewCashier{Merchant: merchant, UID: uid, Secret: secret, RefundAuthority: authority}, g.Clock.Now())
	require.NoError(g.t, err)
	return secret
}

func TestRefundFullAndPartial(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	t2 := g.client("T2", g.addTerminal("Shop A", "T2", ""))
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Shop A", "C1"))
	stranger := g.client("CX", g.addCashier("Shop B", "CX"))
	sale := paidSale(t, g, till, "T1")

	data := refundData(sale.TradeID, "2.5")
	data["m_refund_id"] = "R-2025-001"
	r := call(t, cashier, "v3.CreateRefund", data)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	part := refundOf(t, r)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, part.RefundID)
	require.Equal(t, "refunded", part.State)
	require.Equal(t, "2.50", part.RefundAmount)
	require.Equal(t, "EUR", part.RefundCurrency)
	require.Equal(t, "2.50", part.SettlementRefundAmount)
	require.Equal(t, "EUR", part.SettlementRefundCurrency)
	require.Equal(t, "returned goods", part.RefundDescription)
	require.Equal(t, protocol.OptionalString("R-2025-001"), part.MRefundID)
	require.Equal(t, protocol.OptionalString("https://merchant.example/refund"), part.NotifyURL)
	require.Equal(t, sale.TradeID, part.YBTransactionID)
	require.Equal(t, queryOrder(t, till, sale.TradeID).TransactionID, part.TransactionID)
	require.NotEmpty(t, part.AcquirerReference)
	require.Equal(t, "simulated", part.Acquirer, "no money moved, and the answer says so")
	require.NotEmpty(t, part.RefundTime)
	require.Equal(t, "2.50", queryOrder(t, till, sale.TradeID).RefundedAmount)
	require.Equal(t, "paid", queryOrder(t, till, sale.TradeID).State, "a refunded order stays paid")

	// The order's own terminal refunds the rest: a full refund in total.
	rest := call(t, till, "v3.CreateRefund", refundData(sale.TradeID, "10.00"))
	require.True(t, rest.Status, "%s %s", rest.Code, rest.Message)
	require.Contains(t, string(rest.Data), `"m_refund_id":null`, "m_refund_id is null when not given")
	require.Equal(t, "12.50", queryOrder(t, cashier, sale.TradeID).RefundedAmount)
	msg := refusedRefund(t, cashier, protocol.CodeRefundNotAllowed, refundData(sale.TradeID, "0.01"))
	require.Contains(t, msg, "remainder of 0.00 EUR")

	t.Run("QueryRefundOrder", func(t *testing.T) {
		for _, c := range []*sdk.Client{cashier, till} {
			r := call(t, c, "v3.QueryRefundOrder", map[string]string{"refund_id": part.RefundID})
			require.True(t, r.Status, "%s %s", r.Code, r.Message)
			require.Equal(t, part, refundOf(t, r))
			var fields map[string]any
			require.NoError(t, json.Unmarshal(r.Data, &fields))
			for _, k := range []string{"transaction_id", "refund_id", "m_refund_id", "refund_time", "state", "refund_amount", "refund_currency",
				"refund_description", "notify_url", "demo", "settlement_refund_amount", "settlement_refund_currency", "yb_transaction_id"} {
				require.Contains(t, fields, k)
			}
		}
		unknown := "3841510a-4d18-4a61-808d-431a45006de2"
		for name, q := range map[string]struct {
			c        *sdk.Client
			refundID string
		}{"another merchant": {stranger, part.RefundID}, "a sibling terminal": {t2, part.RefundID}, "unknown refund_id": {cashier, unknown}} {
			r := call(t, q.c, "v3.QueryRefundOrder", map[string]string{"refund_id": q.refundID})
			require.False(t, r.Status, name)
			require.Equal(t, protocol.CodeTradeNotFound, r.Code, "%s: %s", name, r.Message)
			require.Equal(t, "The refund_id does not exist", r.Message, name)
		}
		r := call(t, cashier, "v3.QueryRefundOrder", map[string]string{"refund_id": "20240903154342497308"})
		require.Equal(t, protocol.CodeInvalidField, r.Code)
	})

	t.Run("Notifications", func(t *testing.T) {
		var ns []posgate.Notification
		require.NoError(t, g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
			var err error
			ns, err = tx.Notifications(false, 100)
			return err
		}))
		var states []string
		for _, n := range ns {
			if n.RefundID != part.RefundID {
				continue
			}
			require.Equal(t, "refund", n.Payload["type"])
			require.Equal(t, "C1", n.User, "signed with the refund's user's secret")
			require.Equal(t, "C1", n.Payload["user"])
			require.Equal(t, sale.TradeID, n.TradeID)
			require.Equal(t, "https://merchant.example/refund", n.NotifyURL)
			require.Equal(t, "2.50", n.Payload["refund_amount"])
			require.Equal(t, "R-2025-001", n.Payload["m_refund_id"])
			require.Equal(t, "simulated", n.Payload["acquirer"], "the harness refunds through the simulated acquirer")
			states = append(states, n.Payload["state"])
		}
		require.ElementsMatch(t, []string{"refund processing", "refunded"}, states, "one per state change")
	})
}

// The remainder rule holds under concurrency: 20 partial refunds of 0.70
// race for an order of 12.50, and exactly the 17 that fit are made.
func TestRefundConcurrentPartialRefunds(t *testing.T) {
	g := start(t)
	g.addTerminal("Shop A", "T1", "")
	cashier := g.client("C1", g.addCashier("Shop A", "C1"))
	o := g.seedOrder("T1", posgate.StatePaid)

	results := raceRefunds(t, 20, func() map[string]string { return refundData(o.TradeID, "0.70") }, cashier)
	made := 0
	for _, r := range results {
		if r.Status {
			require.Equal(t, "refunded", refundOf(t, r).State)
			made++
			continue
		}
		require.Equal(t, protocol.CodeRefundNotAllowed, r.Code, r.Message)
	}
	require.Equal(t, 17, made)
	require.Equal(t, "11.90", queryOrder(t, cashier, o.TradeID).RefundedAmount)
	require.Equal(t, 17, g.countRefunds(), "refused refunds leave no row")
}

func TestRefundRules(t *testing.T) {
	g := start(t)
	g.addTerminal("Shop A", "T1", "")
	g.addTerminal("Shop B", "TB", "")
	cashier := g.client("C1", g.addCashier("Shop A", "C1"))
	other := g.client("CB", g.addCashier("Shop B", "CB"))
	disabled := g.client("CD", g.addCashierWith("Shop A", "CD", posgate.RefundDisabled))

	// 30 refunds race (group commit keeps that fast): 29 are made, the
	// 30th is refused although the amount would allow it.
	t.Run("30 refunds", func(t *testing.T) {
		o := g.seedOrder("T1", posgate.StatePaid)
		results := raceRefunds(t, posgate.MaxRefunds, func() map[string]string { return refundData(o.TradeID, "0.01") }, cashier)
		made := 0
		for _, r := range results {
			if r.Status {
				made++
				continue
			}
			require.Equal(t, protocol.CodeRefundNotAllowed, r.Code, r.Message)
			require.Contains(t, r.Message, "less than 30 times")
		}
		require.Equal(t, posgate.MaxRefunds-1, made)
		require.Equal(t, "0.29", queryOrder(t, cashier, o.TradeID).RefundedAmount)
		msg := refusedRefund(t, cashier, protocol.CodeRefundNotAllowed, refundData(o.TradeID, "0.01"))
		require.Contains(t, msg, "less than 30 times")
	})

	t.Run("one year", func(t *testing.T) {
		o := g.seedOrder("T1", posgate.StatePaid)
		g.Clock.Set(o.PaidAt.AddDate(1, 0, 0).Add(-time.Minute))
		refunded(t, cashier, o.TradeID, "1.00")
		g.Clock.Set(o.PaidAt.AddDate(1, 0, 0).Add(time.Minute))
		msg := refusedRefund(t, cashier, protocol.CodeRefundNotAllowed, refundData(o.TradeID, "1.00"))
		require.Contains(t, msg, "more than one year ago")
		g.Clock.Set(time.Now())
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		paid := g.seedOrder("T1", posgate.StatePaid)
		with := func(mod func(d map[string]string)) map[string]string {
			d := refundData(paid.TradeID, "1.00")
			mod(d)
			return d
		}
		cases := []struct {
			name string
			c    *sdk.Client
			data map[string]string
			code protocol.Code
			msg  string
		}{
			{"currency mismatch", cashier, with(func(d map[string]string) { d["refund_currency"] = "CNY" }), protocol.CodeRefundNotAllowed, "must be the currency of the original transaction, EUR"},
			{"unknown currency", cashier, with(func(d map[string]string) { d["refund_currency"] = "EURO" }), protocol.CodeInvalidField, ""},
			{"too many decimals", cashier, with(func(d map[string]string) { d["refund_amount"] = "1.005" }), protocol.CodeInvalidField, "refund_amount"},
			{"zero", cashier, with(func(d map[string]string) { d["refund_amount"] = "0.00" }), protocol.CodeRefundNotAllowed, "above zero"},
			{"over the amount", cashier, with(func(d map[string]string) { d["refund_amount"] = "12.51" }), protocol.CodeRefundNotAllowed, "remainder of 12.50 EUR"},
			{"description too long", cashier, with(func(d map[string]string) { d["refund_description"] = strings.Repeat("x", 256) }), protocol.CodeInvalidField, "at most 255"},
			{"description with ESC", cashier, with(func(d map[string]string) { d["refund_description"] = "ok\x1b[2J" }), protocol.CodeInvalidField, "control characters, got U+001B"},
			{"relative notify_url", cashier, with(func(d map[string]string) { d["notify_url"] = "/notify" }), protocol.CodeInvalidField, "notify_url"},
			{"missing description", cashier, with(func(d map[string]string) { delete(d, "refund_description") }), protocol.CodeMissingField, ""},
			{"another merchant's order", other, refundData(paid.TradeID, "1.00"), protocol.CodeTradeNotFound, ""},
			{"unknown order", cashier, refundData("4a49ffb3-a30f-ba92-9422-1969afb6f121", "1.00"), protocol.CodeTradeNotFound, ""},
			{"authority disabled", disabled, refundData(paid.TradeID, "1.00"), protocol.CodeRefundNotAllowed, "disabled for cashier CD"},
			{"authorized", cashier, refundData(g.seedOrder("T1", posgate.StateAuthorized).TradeID, "1.00"), protocol.CodeRefundNotAllowed, "is authorized"},
			{"cancelled", cashier, refundData(g.seedOrder("T1", posgate.StateCancelled).TradeID, "1.00"), protocol.CodeRefundNotAllowed, "is cancelled"},
			{"processing", cashier, refundData(g.seedOrder("T1", posgate.StateProcessing).TradeID, "1.00"), protocol.CodeRefundNotAllowed, "is processing"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before, refunds := g.count(), g.countRefunds()
				msg := refusedRefund(t, tc.c, tc.code, tc.data)
				require.Contains(t, msg, tc.msg)
				require.Equal(t, before, g.count())
				require.Equal(t, refunds, g.countRefunds())
			})
		}
		require.Equal(t, "0.00", queryOrder(t, cashier, paid.TradeID).RefundedAmount)
	})

	t.Run("m_refund_id and request_id", func(t *testing.T) {
		o := g.seedOrder("T1", posgate.StatePaid)
		first := refundData(o.TradeID, "1.00")
		first["m_refund_id"] = "R-7"
		r := call(t, cashier, "v3.CreateRefund", first)
		require.True(t, r.Status, r.Message)
		made := refundOf(t, r)

		clash := refundData(o.TradeID, "1.00")
		clash["m_refund_id"] = "R-7"
		msg := refusedRefund(t, cashier, protocol.CodeInvalidField, clash)
		require.Contains(t, msg, made.RefundID, "the clash names the refund that holds the number")

		theirs := g.seedOrder("TB", posgate.StatePaid)
		elsewhere := refundData(theirs.TradeID, "1.00")
		elsewhere["m_refund_id"] = "R-7"
		r = call(t, other, "v3.CreateRefund", elsewhere)
		require.True(t, r.Status, "m_refund_id is unique per merchant: %s", r.Message)

		refusedRefund(t, cashier, protocol.CodeDuplicateRequest, first)
		require.Equal(t, "1.00", queryOrder(t, cashier, o.TradeID).RefundedAmount, "the repeat refunded nothing")
	})

	t.Run("acquirer outcomes", func(t *testing.T) {
		o := g.seedOrder("T1", posgate.StatePaid)
		r := call(t, cashier, "v3.CreateRefund", refundData(o.TradeID, "2.05"))
		require.True(t, r.Status, r.Message)
		failed := refundOf(t, r)
		require.Equal(t, "refund failed", failed.State)
		require.NotEmpty(t, failed.Message)
		require.Equal(t, "0.00", queryOrder(t, cashier, o.TradeID).RefundedAmount, "a failed refund gives its amount back")

		r = call(t, cashier, "v3.CreateRefund", refundData(o.TradeID, "2.06"))
		require.True(t, r.Status, r.Message)
		require.Equal(t, "refund error", refundOf(t, r).State)
		require.Equal(t, "2.06", queryOrder(t, cashier, o.TradeID).RefundedAmount, "an unknown outcome keeps the amount reserved")

		r = call(t, cashier, "v3.QueryRefundOrder", map[string]string{"refund_id": failed.RefundID})
		require.Equal(t, "refund failed", refundOf(t, r).State)
	})
}

func TestRefundApprovalFlow(t *testing.T) {
	g := start(t)
	g.addTerminal("Shop A", "T1", "")
	junior := g.client("C2", g.addCashierWith("Shop A", "C2", posgate.RefundApproval))
	o := g.seedOrder("T1", posgate.StatePaid)

	r := call(t, junior, "v3.CreateRefund", refundData(o.TradeID, "5.00"))
	require.True(t, r.Status, r.Message)
	waiting := refundOf(t, r)
	require.Equal(t, "to-be-approval", waiting.State)
	require.Empty(t, waiting.AcquirerReference)
	require.Equal(t, "5.00", queryOrder(t, junior, o.TradeID).RefundedAmount, "a refund waiting for approval holds its amount")
	msg := refusedRefund(t, junior, protocol.CodeRefundNotAllowed, refundData(o.TradeID, "7.51"))
	require.Contains(t, msg, "remainder of 7.50 EUR")

	// posgate refunds approve calls this.
	approved, err := g.G.Service.ApproveRefund(context.Background(), "ops", waiting.RefundID)
	require.NoError(t, err)
	require.Equal(t, posgate.RefundRefunded, approved.State)
	r = call(t, junior, "v3.QueryRefundOrder", map[string]string{"refund_id": waiting.RefundID})
	require.Equal(t, "refunded", refundOf(t, r).State)
	require.NotEmpty(t, refundOf(t, r).AcquirerReference)
	_, err = g.G.Service.ApproveRefund(context.Background(), "ops", waiting.RefundID)
	require.ErrorIs(t, err, posgate.ErrInvalid, "approved once")

	// posgate refunds reject: the amount is refundable again.
	r = call(t, junior, "v3.CreateRefund", refundData(o.TradeID, "7.50"))
	require.True(t, r.Status, r.Message)
	rejected, err := g.G.Service.RejectRefund(context.Background(), "ops", refundOf(t, r).RefundID, "not this one")
	require.NoError(t, err)
	require.Equal(t, posgate.RefundCancelled, rejected.State)
	require.Equal(t, "5.00", queryOrder(t, junior, o.TradeID).RefundedAmount)

	_, err = g.G.Service.ApproveRefund(context.Background(), "ops", "3841510a-4d18-4a61-808d-431a45006de2")
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

// An order with a refund can be neither reversed nor cancelled silently.
func TestRefundThenReversal(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Shop A", "C1"))
	sale := paidSale(t, g, till, "T1")
	refunded(t, cashier, sale.TradeID, "1.00")

	r := call(t, till, "v3.POSReversal", reversal("T1", sale.TradeID))
	require.Equal(t, protocol.CodeNotCancellable, r.Code, r.Message)
	require.Contains(t, r.Message, "refunded")
	r = call(t, cashier, "v3.CancelPayment", map[string]string{"trade_id": sale.TradeID})
	require.Equal(t, protocol.CodeNotCancellable, r.Code, r.Message)
	require.Equal(t, "paid", queryOrder(t, till, sale.TradeID).State)
	rs, err := g.G.Service.Refunds(context.Background(), sale.TradeID)
	require.NoError(t, err)
	require.Len(t, rs, 1)
}

// TestReplayedRefundIsAnsweredOnce posts one signed refund five times, as
// an attacker replaying it within the time window (or a till retrying)
// would: one refund is made, and every repeat is answered with it.
func TestReplayedRefundIsAnsweredOnce(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	sale := paidSale(t, g, g.client("T1", secret), "T1")
	cashierSecret := g.addCashier("Shop A", "C1")
	body := signed("C1", cashierSecret, "v3.CreateRefund", g.Clock.Now().Unix(), refundData(sale.TradeID, "5.00"))

	_, first, _ := rawCall(t, g.URL, body)
	require.True(t, first.Status, "%s %s", first.Code, first.Message)
	var made sdk.Refund
	require.NoError(t, json.Unmarshal(mustJSON(t, first.Data), &made))
	for range 4 {
		_, again, _ := rawCall(t, g.URL, body)
		require.False(t, again.Status)
		require.Equal(t, protocol.CodeDuplicateRequest, again.Code)
		var shown sdk.Refund
		require.NoError(t, json.Unmarshal(mustJSON(t, again.Data), &shown), "a repeat shows the first refund")
		require.Equal(t, made.RefundID, shown.RefundID)
		require.Equal(t, "refunded", shown.State)
	}
	require.Equal(t, 1, g.countRefunds())
	require.Equal(t, "5.00", queryOrder(t, g.client("C1", cashierSecret), sale.TradeID).RefundedAmount)

	refusedRefund(t, g.client("C1", cashierSecret), protocol.CodeMissingField, without(refundData(sale.TradeID, "5.00"), "request_id"))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
