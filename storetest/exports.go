package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// exportTests are the store behaviours the CSV exports page with.
var exportTests = []storeTest{
	{"PaidOrdersBetween", testPaidOrdersBetween},
	{"RefundsBetween", testRefundsBetween},
}

func testPaidOrdersBetween(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	var other int64
	do(t, s, func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant("globex", t0)
		other = m.ID
		if err != nil {
			return err
		}
		return tx.InsertTerminal(terminal(m.ID, "G1"), []byte("g"))
	})
	var orders []posgate.Order
	for i := range 7 {
		o := order(mid, []string{"T1", "T2"}[i%2], fmt.Sprintf("tr-%d", i))
		// Two orders share each paid time: the cursor breaks the tie by id.
		o.PaidAt = ptr(t0.Add(time.Duration(i/2) * time.Minute))
		orders = append(orders, o)
	}
	unpaid := order(mid, "T1", "tr-cancelled")
	unpaid.State = posgate.StateCancelled
	theirs := order(other, "G1", "tr-g")
	insertOrders(t, s, append(orders, unpaid, theirs)...)

	page := func(tid string, from, to time.Time, after posgate.ExportCursor, limit int) []string {
		list, err := get(t, s, func(tx posgate.Tx) ([]posgate.Order, error) {
			return tx.PaidOrdersBetween(mid, tid, from, to, after, limit)
		})
		require.NoError(t, err)
		var ids []string
		for _, o := range list {
			ids = append(ids, o.TradeID)
		}
		return ids
	}
	end := t0.Add(time.Hour)
	require.Equal(t, []string{"tr-0", "tr-1", "tr-2", "tr-3", "tr-4", "tr-5", "tr-6"}, page("", t0, end, posgate.ExportCursor{}, 100),
		"paid only, the merchant's only, by paid time then id")
	require.Equal(t, []string{"tr-0", "tr-1", "tr-2"}, page("", t0, end, posgate.ExportCursor{}, 3))
	require.Equal(t, []string{"tr-3", "tr-4", "tr-5"}, page("", t0, end, posgate.ExportCursor{At: t0.Add(time.Minute), ID: "tr-2"}, 3), "after the cursor")
	require.Equal(t, []string{"tr-0", "tr-1", "tr-2", "tr-3"}, page("", t0, t0.Add(2*time.Minute), posgate.ExportCursor{}, 100), "end excluded")
	require.Equal(t, []string{"tr-1", "tr-3", "tr-5"}, page("T2", t0, end, posgate.ExportCursor{}, 100), "one terminal's")
}

func testRefundsBetween(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T2", "tr-2"))
	do(t, s, func(tx posgate.Tx) error {
		for i, tradeID := range []string{"tr-1", "tr-2", "tr-1", "tr-2"} {
			r := refund(mid, tradeID, fmt.Sprintf("rf-%d", i), 10)
			r.State, r.RefundedAt = posgate.RefundRefunded, ptr(t0.Add(time.Duration(i)*time.Second))
			if err := tx.InsertRefund(r); err != nil {
				return err
			}
		}
		return tx.InsertRefund(refund(mid, "tr-1", "rf-processing", 10))
	})
	ids := func(tid string, after posgate.ExportCursor, limit int) []string {
		list, err := get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) {
			return tx.RefundsBetween(mid, tid, t0, t0.Add(time.Minute), after, limit)
		})
		require.NoError(t, err)
		var out []string
		for _, r := range list {
			out = append(out, r.RefundID)
		}
		return out
	}
	require.Equal(t, []string{"rf-0", "rf-1", "rf-2", "rf-3"}, ids("", posgate.ExportCursor{}, 10), "refunded only")
	require.Equal(t, []string{"rf-2", "rf-3"}, ids("", posgate.ExportCursor{At: t0.Add(time.Second), ID: "rf-1"}, 10))
	require.Equal(t, []string{"rf-0", "rf-2"}, ids("T1", posgate.ExportCursor{}, 10), "the refunds of one terminal's orders")
	require.Empty(t, ids("", posgate.ExportCursor{}, 0))
}
