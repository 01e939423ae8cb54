package e2e

import (
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/stretchr/testify/require"
)

func TestSaleApproved(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	sc := watch(t, term)
	till := g.client("T1", secret)

	r := call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	require.Equal(t, "processing", o.State, "v3.POS answers once the amount is on screen")
	require.Equal(t, "12.50", o.Amount)
	require.Equal(t, "EUR", o.Currency)
	require.Equal(t, "T1", o.User)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, o.TradeID)

	info := waitState(t, till, o.TradeID, "paid")
	require.NotEmpty(t, info.TransactionID)
	require.NotEmpty(t, info.PaidTime)
	require.Equal(t, "12.50", info.Amount)
	sc.waitFor(t, simterm.ScreenApproved)
	require.Equal(t, 1, term.Executed("sale"))
}

func TestAuthorisation(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", with(saleData("T1", "30.00"), "operation", "2"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	waitState(t, till, orderOf(t, r).TradeID, "authorized")
}

func TestSaleDeclined(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	sc := watch(t, term)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "1.05"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	waitState(t, till, orderOf(t, r).TradeID, "declined")
	sc.waitFor(t, simterm.ScreenDeclined)
}

func TestSaleExpires(t *testing.T) {
	g := start(t, func(c *server.Config) { c.SaleTimeout = 300 * time.Millisecond })
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	sc := watch(t, term)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "1.07")) // the customer never taps
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	waitState(t, till, orderOf(t, r).TradeID, "expired")
	sc.waitFor(t, simterm.ScreenExpired)
	// The terminal is free again.
	r = call(t, till, "v3.POS", saleData("T1", "2.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
}

func TestPOSCancelWhileWaitingAndAfterPayment(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	sc := watch(t, term)
	till := g.client("T1", secret)

	r := call(t, till, "v3.POS", saleData("T1", "1.07"))
	require.True(t, r.Status)
	o := orderOf(t, r)
	r = call(t, till, "v3.POSCancel", map[string]string{"tid": "T1", "trade_id": o.TradeID, "request_id": "cancel000000000000000000001"})
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	sc.waitFor(t, simterm.ScreenCancelled)

	paid := paidSale(t, g, till, "T1")
	r = call(t, till, "v3.POSCancel", map[string]string{"tid": "T1", "trade_id": paid.TradeID, "request_id": "cancel000000000000000000002"})
	require.False(t, r.Status)
	require.Equal(t, protocol.CodeNotCancellable, r.Code)
	require.Contains(t, r.Message, "v3.POSReversal")
}

func TestQueryOrderVisibility(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	otherTermSecret := g.addTerminal("Shop A", "T2", "")
	cashier := g.addCashier("Shop A", "016683")
	stranger := g.addCashier("Shop B", "999999")
	g.connect("T1", secret)
	o := paidSale(t, g, g.client("T1", secret), "T1")

	q := map[string]string{"trade_id": o.TradeID}
	r := call(t, g.client("016683", cashier), "v3.QueryOrder", q)
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Contains(t, string(r.Data), `"merchant_name":"Shop A"`)
	require.Contains(t, string(r.Data), `"amount":"12.50"`)

	for name, c := range map[string][2]string{"other merchant's cashier": {"999999", stranger}, "sibling terminal": {"T2", otherTermSecret}} {
		r = call(t, g.client(c[0], c[1]), "v3.QueryOrder", q)
		require.Equal(t, protocol.CodeTradeNotFound, r.Code, name)
	}
}

func TestInvalidSaleFields(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.addTerminal("Shop A", "TCNY", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	bad := map[string][2]string{
		"pay_method online":         {"pay_method", "online"},
		"sub_pay_method WeChat":     {"sub_pay_method", "WeChat Pay"},
		"operation 3":               {"operation", "3"},
		"order_id with letters":     {"order_id", "12ab"},
		"order_id of 20 digits":     {"order_id", "12345678901234567890"},
		"amount with 3 decimals":    {"amount", "1.005"},
		"amount negative":           {"amount", "-1.00"},
		"amount with exponent":      {"amount", "1e2"},
		"amount below EUR 0.10":     {"amount", "0.09"},
		"tip above amount":          {"tip_amount", "13.00"},
		"tip malformed":             {"tip_amount", "abc"},
		"currency unknown":          {"currency", "XYZ"},
		"currency lower case":       {"currency", "eur"},
		"currency not the terminal": {"currency", "CNY"},
		"description of 65":         {"description", "12345678901234567890123456789012345678901234567890123456789012345"},
		"description with NUL":      {"description", "Coffee\x00"},
		"description with ESC":      {"description", "\x1b[2JPAID"},
		"description with tab":      {"description", "a\tb"},
		"description with newline":  {"description", "a\nb"},
		"description with DEL":      {"description", "a\x7fb"},
		"description with C1 CSI":   {"description", "a\u009b2Jb"},
		"notify_url relative":       {"notify_url", "/notify"},
		"notify_url ftp":            {"notify_url", "ftp://x.example/n"},
		"request_id with spaces":    {"request_id", "a b"},
	}
	before := g.count()
	for name, kv := range bad {
		r := call(t, till, "v3.POS", with(saleData("T1", "12.50"), kv[0], kv[1]))
		require.Equal(t, protocol.CodeInvalidField, r.Code, "%s: %s", name, r.Message)
	}
	require.Equal(t, before, g.count())
	r := call(t, till, "v3.POS", with(with(saleData("T1", "12.50"), "sub_pay_method", "POSPayment"), "description", "Café – table 4 ☕"))
	require.True(t, r.Status, "POSPayment is accepted too, and printable Unicode: %s", r.Message)
}

func TestDuplicateRequestID(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	data := saleData("T1", "12.50")
	r := call(t, till, "v3.POS", data)
	require.True(t, r.Status)
	first := orderOf(t, r)
	waitState(t, till, first.TradeID, "paid")

	r = call(t, till, "v3.POS", data)
	require.Equal(t, protocol.CodeDuplicateRequest, r.Code)
	require.Equal(t, "paid", orderOf(t, r).State, "an exact repeat learns the outcome")
	require.Equal(t, first.TradeID, orderOf(t, r).TradeID)

	r = call(t, till, "v3.POS", with(data, "amount", "99.00"))
	require.Equal(t, protocol.CodeDuplicateRequest, r.Code)
	require.Equal(t, "null", string(r.Data), "a different request reusing the id learns nothing")
}

func TestOfflineAndBusyTerminals(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	till := g.client("T1", secret)
	before := g.count()
	r := call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.Equal(t, protocol.CodeTerminalOffline, r.Code)
	require.Equal(t, before, g.count(), "nothing is created for a refused request")

	g.connect("T1", secret)
	r = call(t, till, "v3.POS", saleData("T1", "1.07")) // waits for a card that never comes
	require.True(t, r.Status)
	before = g.count()
	r = call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.Equal(t, protocol.CodeTerminalBusy, r.Code)
	require.Equal(t, before, g.count())
}
