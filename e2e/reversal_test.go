package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/stretchr/testify/require"
)

func reversal(tid, tradeID string) map[string]string {
	return map[string]string{"tid": tid, "trade_id": tradeID, "request_id": fmt.Sprintf("rev%029d", time.Now().UnixNano())}
}

func TestSaleThenReversalEndToEnd(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T125119061", "")
	term := g.connect("T125119061", secret)
	till := g.client("T125119061", secret)
	sale := paidSale(t, g, till, "T125119061")
	sc := watch(t, term)

	r := call(t, till, "v3.POSReversal", reversal("T125119061", sale.TradeID))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, protocol.CodeOK, r.Code)
	require.Equal(t, "", r.Message)

	// The seed's response shape, field by field and in the seed's order.
	var fields map[string]any
	require.NoError(t, json.Unmarshal(r.Data, &fields))
	seedOrder := []string{"type", "user", "amount", "currency", "trade_id", "description", "order_id", "createDate", "demo", "transaction_id", "state"}
	for _, k := range seedOrder {
		require.Contains(t, fields, k)
		require.IsType(t, "", fields[k], "field %s is a string", k)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.Token()
	for i := 0; i < len(seedOrder); i++ {
		k, _ := dec.Token()
		require.Equal(t, seedOrder[i], k)
		var skip any
		dec.Decode(&skip)
	}
	o := orderOf(t, r)
	require.Equal(t, "payment", o.Type)
	require.Equal(t, "T125119061", o.User)
	require.Equal(t, "12.50", o.Amount)
	require.Equal(t, "EUR", o.Currency)
	require.Equal(t, sale.TradeID, o.TradeID)
	require.Equal(t, "YabandPay test", o.Description)
	require.Equal(t, sale.OrderID, o.OrderID)
	require.Equal(t, sale.CreateDate, o.CreateDate)
	require.NotEmpty(t, o.TransactionID)
	require.Equal(t, "cancelled", o.State)

	sc.waitFor(t, simterm.ScreenReversalApproved)
	require.Subset(t, sc.list(), []string{simterm.ScreenReversalRequested, simterm.ScreenReversalProcessing, simterm.ScreenReversalApproved})
	require.Equal(t, 1, term.Executed("reversal"))
	waitState(t, till, sale.TradeID, "cancelled")

	r = call(t, till, "v3.POSReversal", reversal("T125119061", sale.TradeID))
	require.Equal(t, protocol.CodeAlreadyCancelled, r.Code)
}

func TestReversalRefusals(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.addTerminal("Shop A", "T2", "")
	g.addTerminal("Shop B", "TX", "")
	till := g.client("T1", secret)
	cases := []struct {
		name  string
		order func() posgate.Order
		code  protocol.Code
	}{
		{"-4114 unknown trade", func() posgate.Order { return posgate.Order{TradeID: "4a49ffb3-a30f-ba92-9422-1969afb6f121"} }, protocol.CodeTradeNotFound},
		{"-4114 another merchant's order", func() posgate.Order { return g.seedOrder("TX", posgate.StatePaid) }, protocol.CodeTradeNotFound},
		{"-4116 cancelled", func() posgate.Order { return g.seedOrder("T1", posgate.StateCancelled) }, protocol.CodeAlreadyCancelled},
		{"-4117 expired", func() posgate.Order { return g.seedOrder("T1", posgate.StateExpired) }, protocol.CodeExpired},
		{"-4115 declined", func() posgate.Order { return g.seedOrder("T1", posgate.StateDeclined) }, protocol.CodeNotCancellable},
		{"-4115 still processing", func() posgate.Order { return g.seedOrder("T1", posgate.StateProcessing) }, protocol.CodeNotCancellable},
		{"-4115 refunded in part", func() posgate.Order {
			return g.seedOrder("T1", posgate.StatePaid, func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 100, 1 })
		}, protocol.CodeNotCancellable},
		{"-4115 another terminal's order", func() posgate.Order { return g.seedOrder("T2", posgate.StatePaid) }, protocol.CodeNotCancellable},
		{"-4112 cleared", func() posgate.Order {
			return g.seedOrder("T1", posgate.StatePaid, func(o *posgate.Order) { now := o.CreatedAt; o.ClearedAt = &now })
		}, protocol.CodeCleared},
		{"-4111 yesterday", func() posgate.Order {
			return g.seedOrder("T1", posgate.StatePaid, func(o *posgate.Order) { o.BusinessDate = o.CreatedAt.AddDate(0, 0, -1).Format(time.DateOnly) })
		}, protocol.CodeCancelWindow},
		{"-4201 offline", func() posgate.Order { return g.seedOrder("T1", posgate.StatePaid) }, protocol.CodeTerminalOffline},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.count()
			r := call(t, till, "v3.POSReversal", reversal("T1", c.order().TradeID))
			require.False(t, r.Status)
			require.Equal(t, c.code, r.Code, r.Message)
			require.Equal(t, before["reversals"], g.count()["reversals"])
			require.Equal(t, before["commands"], g.count()["commands"])
		})
	}
}

func TestReversalTerminalBusy(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	paid := g.seedOrder("T1", posgate.StatePaid)
	r := call(t, till, "v3.POS", saleData("T1", "1.07")) // the terminal now waits for a card
	require.True(t, r.Status)
	r = call(t, till, "v3.POSReversal", reversal("T1", paid.TradeID))
	require.Equal(t, protocol.CodeTerminalBusy, r.Code, r.Message)
}

func TestReversalDeclinedOnTerminal(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "1.09")) // magic: its reversal is declined
	require.True(t, r.Status)
	o := orderOf(t, r)
	waitState(t, till, o.TradeID, "paid")
	r = call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.Equal(t, protocol.CodeTerminalDeclined, r.Code, r.Message)
	require.Equal(t, "paid", orderOf(t, r).State, "the order stays paid")
	require.Equal(t, 1, term.Executed("reversal"))
	waitState(t, till, o.TradeID, "paid")
}

func TestReversalTimeoutThenOutcomeAppliedOnce(t *testing.T) {
	g := start(t, func(c *server.Config) { c.ReversalWait = 200 * time.Millisecond })
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")
	term.SetFaults(simterm.Faults{ResultDelay: time.Second})
	r := call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.Equal(t, protocol.CodeTerminalTimeout, r.Code, r.Message)
	require.Equal(t, "paid", orderOf(t, r).State, "-4203 carries the order as it is now")
	waitState(t, till, o.TradeID, "cancelled")
	require.Equal(t, 1, term.Executed("reversal"))
}

func TestConcurrentReversalsOfOneOrder(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")

	const n = 100
	codes := make([]protocol.Code, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			r, err := till.Call(t.Context(), "v3.POSReversal", map[string]string{"tid": "T1", "trade_id": o.TradeID, "request_id": fmt.Sprintf("concurrent%022d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = r.Code
		}()
	}
	close(ready)
	wg.Wait()
	count := map[protocol.Code]int{}
	for _, c := range codes {
		count[c]++
	}
	require.Equal(t, 1, count[protocol.CodeOK], "codes: %v", count)
	require.Equal(t, n-1, count[protocol.CodeNotCancellable]+count[protocol.CodeAlreadyCancelled], "codes: %v", count)
	require.Equal(t, 1, term.Executed("reversal"))
	waitState(t, till, o.TradeID, "cancelled")
}

func TestBusinessDayFollowsTheTerminalsTimeZone(t *testing.T) {
	g := start(t)
	// 23:50 in Amsterdam (UTC+1 in November) is 22:50 UTC.
	g.Clock.Set(time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC))
	ams := g.addTerminal("Shop A", "TAMS", "Europe/Amsterdam")
	ny := g.addTerminal("Shop A", "TNY", "America/New_York")
	g.connect("TAMS", ams)
	g.connect("TNY", ny)
	amsTill, nyTill := g.client("TAMS", ams), g.client("TNY", ny)
	amsSale := paidSale(t, g, amsTill, "TAMS")
	nySale := paidSale(t, g, nyTill, "TNY")

	// 00:10 the next day in Amsterdam, still 25 November in UTC and in New York.
	g.Clock.Set(time.Date(2026, 11, 25, 23, 10, 0, 0, time.UTC))
	r := call(t, amsTill, "v3.POSReversal", reversal("TAMS", amsSale.TradeID))
	require.Equal(t, protocol.CodeCancelWindow, r.Code, r.Message)
	r = call(t, nyTill, "v3.POSReversal", reversal("TNY", nySale.TradeID))
	require.True(t, r.Status, "New York is still on its business day: %s %s", r.Code, r.Message)

	// 23:50 in New York, then 00:10 there.
	g.Clock.Set(time.Date(2026, 11, 27, 4, 50, 0, 0, time.UTC))
	nySale = paidSale(t, g, nyTill, "TNY")
	g.Clock.Set(time.Date(2026, 11, 27, 5, 10, 0, 0, time.UTC))
	r = call(t, nyTill, "v3.POSReversal", reversal("TNY", nySale.TradeID))
	require.Equal(t, protocol.CodeCancelWindow, r.Code, r.Message)
}

func TestClearedBatchRefusesReversal(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")
	n, err := g.G.Service.CloseBatch(t.Context(), "T1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	r := call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.Equal(t, protocol.CodeCleared, r.Code, r.Message)
}

func TestDuplicateReversalRequestLearnsTheOutcome(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")
	req := reversal("T1", o.TradeID)
	r := call(t, till, "v3.POSReversal", req)
	require.True(t, r.Status)
	r = call(t, till, "v3.POSReversal", req)
	require.Equal(t, protocol.CodeDuplicateRequest, r.Code)
	require.Equal(t, "cancelled", orderOf(t, r).State)
}

func TestCancelPaymentIsSilent(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	cashier := g.addCashier("Shop A", "016683")
	term := g.connect("T1", secret)
	till, office := g.client("T1", secret), g.client("016683", cashier)

	paid := paidSale(t, g, till, "T1")
	r := call(t, office, "v3.CancelPayment", map[string]string{"trade_id": paid.TradeID})
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	require.Equal(t, 0, term.Executed("reversal"), "no terminal involved")
	r = call(t, office, "v3.CancelPayment", map[string]string{"trade_id": paid.TradeID})
	require.Equal(t, protocol.CodeAlreadyCancelled, r.Code)

	// An order still waiting for the card: cancelled, and the terminal closes the screen.
	sc := watch(t, term)
	r = call(t, till, "v3.POS", saleData("T1", "1.07"))
	require.True(t, r.Status)
	waiting := orderOf(t, r)
	r = call(t, office, "v3.CancelPayment", map[string]string{"trade_id": waiting.TradeID})
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	sc.waitFor(t, simterm.ScreenCancelled)

	refunded := g.seedOrder("T1", posgate.StatePaid, func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 50, 1 })
	r = call(t, office, "v3.CancelPayment", map[string]string{"trade_id": refunded.TradeID})
	require.Equal(t, protocol.CodeNotCancellable, r.Code)

	old := g.seedOrder("T1", posgate.StatePaid, func(o *posgate.Order) { o.BusinessDate = o.CreatedAt.AddDate(0, 0, -2).Format(time.DateOnly) })
	r = call(t, office, "v3.CancelPayment", map[string]string{"trade_id": old.TradeID})
	require.Equal(t, protocol.CodeCancelWindow, r.Code)

	stranger := g.addCashier("Shop B", "999999")
	r = call(t, g.client("999999", stranger), "v3.CancelPayment", map[string]string{"trade_id": refunded.TradeID})
	require.Equal(t, protocol.CodeTradeNotFound, r.Code)
}

// The scheduler clears a terminal's batch at its daily cutoff (00:30 local
// by default): before it a reversal of yesterday's order is -4111, after it
// -4112.
func TestBatchClearedAtCutoff(t *testing.T) {
	g := start(t)
	g.Clock.Set(time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC)) // 23:50 in Amsterdam
	secret := g.addTerminal("Shop A", "T1", "Europe/Amsterdam")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")

	g.Clock.Set(time.Date(2026, 11, 25, 23, 20, 0, 0, time.UTC)) // 00:20, before the cutoff
	r := call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.Equal(t, protocol.CodeCancelWindow, r.Code, r.Message)

	g.Clock.Set(time.Date(2026, 11, 25, 23, 40, 0, 0, time.UTC)) // 00:40, after it
	deadline := time.Now().Add(10 * time.Second)
	for !queryOrder(t, till, o.TradeID).Cleared {
		require.True(t, time.Now().Before(deadline), "the batch was not cleared at the cutoff")
		time.Sleep(20 * time.Millisecond)
	}
	r = call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.Equal(t, protocol.CodeCleared, r.Code, r.Message)
}
