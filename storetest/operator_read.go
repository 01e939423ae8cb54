package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// operatorReadTests are the reads behind the order timeline and the
// console's lists.
var operatorReadTests = []storeTest{
	{"OrderHistory", testOrderHistory},
	{"OrdersFilter", testOrdersFilter},
	{"RefundsInState", testRefundsInState},
}

func testOrderHistory(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T2", "tr-2"))
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	do(t, s, func(tx posgate.Tx) error {
		// Inserted out of time order: the lists sort by time.
		for _, r := range []posgate.RequestRecord{
			{User: "T1", RequestID: "rq-b", Method: "v3.POSReversal", Fingerprint: "f2", TradeID: "tr-1", CreatedAt: sec(2)},
			{User: "T1", RequestID: "rq-a", Method: "v3.POS", Fingerprint: "f1", TradeID: "tr-1", CreatedAt: sec(0)},
			{User: "T2", RequestID: "rq-c", Method: "v3.POS", Fingerprint: "f3", TradeID: "tr-2", CreatedAt: sec(1)},
		} {
			if err := tx.InsertRequest(r); err != nil {
				return err
			}
		}
		// Equal times keep their insertion order.
		for _, c := range []posgate.Command{
			command("cmd-1", "T1", "tr-1", posgate.CommandSale, sec(0)),
			command("cmd-9", "T2", "tr-2", posgate.CommandSale, sec(0)),
		} {
			if err := tx.InsertCommand(c); err != nil {
				return err
			}
		}
		c1 := command("cmd-1", "T1", "tr-1", posgate.CommandSale, sec(0))
		c1.State, c1.Outcome, c1.FinishedAt = posgate.CommandDone, posgate.OutcomeApproved, ptr(sec(1))
		if _, err := tx.FinishCommand(c1); err != nil {
			return err
		}
		if err := tx.InsertCommand(command("cmd-2", "T1", "tr-1", posgate.CommandReversal, sec(0))); err != nil {
			return err
		}
		if err := tx.InsertReversal(posgate.Reversal{ID: "rv-2", TradeID: "tr-1", TID: "T1", RequestID: "rq-b", CommandID: "cmd-2",
			State: posgate.ReversalInFlight, CreatedAt: sec(3)}); err != nil {
			return err
		}
		if err := tx.InsertReversal(posgate.Reversal{ID: "rv-1", TradeID: "tr-1", TID: "T1", RequestID: "rq-x", CommandID: "cmd-0",
			State: posgate.ReversalDeclined, CreatedAt: sec(2), FinishedAt: ptr(sec(2))}); err != nil {
			return err
		}
		for i, id := range []string{"nt-2", "nt-1", "nt-3"} {
			n := notification(mid, id)
			n.CreatedAt = sec(5 - i)
			if id == "nt-3" {
				n.TradeID = "tr-2"
			}
			if id == "nt-2" {
				n.RefundID = "rf-1"
			}
			if err := tx.InsertNotification(n); err != nil {
				return err
			}
		}
		return nil
	})

	var reqs []posgate.RequestRecord
	var cmds []posgate.Command
	var revs []posgate.Reversal
	var notes []posgate.Notification
	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		var err error
		if reqs, err = tx.RequestsForTrade("tr-1"); err != nil {
			return err
		}
		if cmds, err = tx.CommandsForTrade("tr-1"); err != nil {
			return err
		}
		if revs, err = tx.ReversalsForTrade("tr-1"); err != nil {
			return err
		}
		notes, err = tx.NotificationsForTrade("tr-1")
		return err
	}))
	require.Equal(t, []posgate.RequestRecord{
		{User: "T1", RequestID: "rq-a", Method: "v3.POS", Fingerprint: "f1", TradeID: "tr-1", CreatedAt: sec(0)},
		{User: "T1", RequestID: "rq-b", Method: "v3.POSReversal", Fingerprint: "f2", TradeID: "tr-1", CreatedAt: sec(2)},
	}, reqs)
	require.Len(t, cmds, 2)
	require.Equal(t, []string{"cmd-1", "cmd-2"}, []string{cmds[0].ID, cmds[1].ID})
	require.Equal(t, posgate.OutcomeApproved, cmds[0].Outcome, "finished commands come with their result")
	require.Equal(t, sec(1), *cmds[0].FinishedAt)
	require.Len(t, revs, 2)
	require.Equal(t, []string{"rv-1", "rv-2"}, []string{revs[0].ID, revs[1].ID})
	require.Equal(t, posgate.ReversalDeclined, revs[0].State)
	require.Len(t, notes, 2, "the order's own and its refund's, not another order's")
	require.Equal(t, []string{"nt-1", "nt-2"}, []string{notes[0].ID, notes[1].ID})
	require.Equal(t, "rf-1", notes[1].RefundID)

	empty, err := get(t, s, func(tx posgate.Tx) ([]posgate.Command, error) { return tx.CommandsForTrade("tr-none") })
	require.NoError(t, err)
	require.Empty(t, empty, "an order without history is an empty list, not an error")
}

func testOrdersFilter(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	var orders []posgate.Order
	for i, spec := range []struct {
		tid   string
		state posgate.State
	}{{"T1", posgate.StatePaid}, {"T2", posgate.StatePaid}, {"T1", posgate.StateDeclined}, {"T1", posgate.StatePaid}, {"T2", posgate.StateExpired}} {
		o := order(mid, spec.tid, "tr-"+string(rune('a'+i)))
		o.State = spec.state
		o.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		orders = append(orders, o)
	}
	insertOrders(t, s, orders...)
	ids := func(f posgate.OrderFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 100
		}
		got, err := get(t, s, func(tx posgate.Tx) ([]posgate.Order, error) { return tx.Orders(f) })
		require.NoError(t, err)
		out := []string{}
		for _, o := range got {
			out = append(out, o.TradeID)
		}
		return out
	}
	require.Equal(t, []string{"tr-e", "tr-d", "tr-c", "tr-b", "tr-a"}, ids(posgate.OrderFilter{}), "newest first")
	require.Equal(t, []string{"tr-e", "tr-d"}, ids(posgate.OrderFilter{Limit: 2}))
	require.Equal(t, []string{"tr-d", "tr-c", "tr-a"}, ids(posgate.OrderFilter{TID: "T1"}))
	require.Equal(t, []string{"tr-d", "tr-a"}, ids(posgate.OrderFilter{TID: "T1", State: posgate.StatePaid}))
	require.Equal(t, []string{"tr-c"}, ids(posgate.OrderFilter{OrderID: "order-tr-c"}))
	require.Equal(t, []string{"tr-c", "tr-b"}, ids(posgate.OrderFilter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}),
		"From is inclusive, To exclusive")
	require.Equal(t, []string{}, ids(posgate.OrderFilter{TID: "T2", State: posgate.StateDeclined}))
	require.Equal(t, orders[0], readOrder(t, s, "tr-a"))
}

func testRefundsInState(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T2", "tr-2"))
	do(t, s, func(tx posgate.Tx) error {
		for i, spec := range []struct {
			trade string
			state posgate.RefundState
		}{{"tr-2", posgate.RefundToBeApproved}, {"tr-1", posgate.RefundRefunded}, {"tr-1", posgate.RefundToBeApproved}, {"tr-2", posgate.RefundToBeApproved}} {
			r := refund(mid, spec.trade, "rf-"+string(rune('a'+i)), 10)
			r.State = spec.state
			r.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			if err := tx.InsertRefund(r); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(state posgate.RefundState, limit int) []string {
		t.Helper()
		got, err := get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) { return tx.RefundsInState(state, limit) })
		require.NoError(t, err)
		out := []string{}
		for _, r := range got {
			require.Equal(t, state, r.State)
			out = append(out, r.RefundID)
		}
		return out
	}
	require.Equal(t, []string{"rf-a", "rf-c", "rf-d"}, list(posgate.RefundToBeApproved, 10), "oldest first, across orders")
	require.Equal(t, []string{"rf-a", "rf-c"}, list(posgate.RefundToBeApproved, 2))
	require.Equal(t, []string{"rf-b"}, list(posgate.RefundRefunded, 10))
	require.Equal(t, []string{}, list(posgate.RefundCancelled, 10))
}
