package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"hash/crc32"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/sdk"
)

// heapPeak is an io.Writer that records the highest heap seen while the
// export arrives, above the heap when it was made. It keeps only the
// first 64 KiB and counts the rest, so the test's own copy does not count.
type heapPeak struct {
	base, peak uint64
	n          int
	head       bytes.Buffer
}

func newHeapPeak(t *testing.T) *heapPeak {
	// Collect often, so the heap measured is what is live, not garbage.
	t.Cleanup(func() { debug.SetGCPercent(debug.SetGCPercent(5)) })
	debug.SetGCPercent(5)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapPeak{base: m.HeapAlloc}
}

func (h *heapPeak) Write(p []byte) (int, error) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapAlloc > h.base && m.HeapAlloc-h.base > h.peak {
		h.peak = m.HeapAlloc - h.base
	}
	h.n += len(p)
	if room := 64<<10 - h.head.Len(); room > 0 {
		h.head.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// seedPaid writes n paid orders of tid, paid one minute apart from first.
func (g *gateway) seedPaid(tid string, n int, first time.Time) {
	g.t.Helper()
	for done := 0; done < n; done += 1000 {
		require.NoError(g.t, g.G.Store.InTx(context.Background(), func(tx posgate.Tx) error {
			term, err := tx.Terminal(tid)
			if err != nil {
				return err
			}
			for i := done; i < min(done+1000, n); i++ {
				at := first.Add(time.Duration(i) * time.Minute)
				o := posgate.Order{
					TradeID: fmt.Sprintf("%08x-0000-4000-8000-%012x", crc32.ChecksumIEEE([]byte(tid)), i), MerchantID: term.MerchantID, TID: tid, User: tid,
					OrderID: fmt.Sprint(i + 1), Operation: posgate.OpSale, Amount: int64(100 + i), Currency: "EUR",
					Description: "=HYPERLINK(\"x\")", PayMethod: "offline", SubPayMethod: "point_of_sales", State: posgate.StatePaid,
					TransactionID: fmt.Sprintf("SEED%020d", i), CreatedAt: at, UpdatedAt: at, PaidAt: &at,
					BusinessDate: at.Format(time.DateOnly), ExpiresAt: at,
				}
				if err := tx.InsertOrder(o); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

func TestExportPayments(t *testing.T) {
	g := start(t)
	g.addTerminal("Busy shop", "T1", "")
	t2secret := g.addTerminal("Busy shop", "T2", "")
	g.addTerminal("Other shop", "TX", "")
	cashier := g.client("C1", g.addCashier("Busy shop", "C1"))
	first := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const n = 10_000
	g.seedPaid("T1", n, first)
	g.seedPaid("T2", 10, first)
	g.seedPaid("TX", 10, first)

	var full bytes.Buffer
	require.NoError(t, cashier.TimePayOrder(context.Background(), first, first.Add(30*24*time.Hour), &full))
	rows, err := csv.NewReader(&full).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+n+10, "the merchant's rows of both terminals, never another merchant's")
	require.Equal(t, []string{"trade_id", "order_id", "tid", "user", "state", "amount", "tip_amount", "refunded_amount",
		"currency", "transaction_id", "pay_method", "sub_pay_method", "description", "demo", "createDate", "paid_time"}, rows[0])
	require.Equal(t, "paid", rows[1][4])
	require.Equal(t, "1.00", rows[1][5])
	require.Equal(t, `'=HYPERLINK("x")`, rows[1][12], "no formula reaches a spreadsheet")
	require.Equal(t, fmt.Sprint(first.Unix()), rows[1][15])
	for i := 2; i < len(rows); i++ {
		require.LessOrEqual(t, rows[i-1][15], rows[i][15], "oldest first")
	}

	// The same export again, measuring the heap while it streams.
	h := newHeapPeak(t)
	require.NoError(t, cashier.TimePayOrder(context.Background(), first, first.Add(30*24*time.Hour), h))
	t.Logf("exported %d payments, %d bytes of CSV; peak heap growth while streaming %d KiB", n+10, h.n, h.peak/1024)
	// Built in memory, 10,000 orders and their CSV would take well over
	// 4 MiB; streamed, a page of 500 and the buffers in flight remain.
	require.Less(t, h.peak, uint64(4<<20), "streamed: the gateway never holds the whole export")

	// A terminal sees its own orders only; the range is [start, end).
	var buf bytes.Buffer
	require.NoError(t, g.client("T2", t2secret).TimePayOrder(context.Background(), first, first.Add(5*time.Minute), &buf))
	rows, err = csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+5)

	// Refused in the envelope, with nothing written.
	before := g.count()
	err = cashier.TimePayOrder(context.Background(), first, first.Add(posgate.MaxExportRange+time.Second), &buf)
	require.ErrorIs(t, err, sdk.ErrInvalidField, "over the maximum range")
	require.NoError(t, cashier.TimePayOrder(context.Background(), first, first.Add(posgate.MaxExportRange), &bytes.Buffer{}), "the maximum itself")
	err = cashier.TimePayOrder(context.Background(), first, first, &buf)
	require.ErrorIs(t, err, sdk.ErrInvalidField, "empty range")
	r := call(t, cashier, "v3.TimePayOrder", map[string]string{"start_time": "1569894340"})
	require.Equal(t, "-3001", string(r.Code))
	r = call(t, cashier, "v3.TimeRefundOrder", map[string]string{"start_time": "x", "end_time": "1573523141"})
	require.Equal(t, "-3003", string(r.Code))
	require.Equal(t, before, g.count(), "refusals write nothing")
}

func TestExportRefunds(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	cashier := g.client("C1", g.addCashier("Shop A", "C1"))
	stranger := g.client("CX", g.addCashier("Shop B", "CX"))
	sale := paidSale(t, g, till, "T1")
	from := g.Clock.Now().Add(-time.Minute)
	a := refunded(t, cashier, sale.TradeID, "2.5")
	b := refunded(t, till, sale.TradeID, "1")
	refusedRefund(t, cashier, "-4301", refundData(sale.TradeID, "100"))

	var buf bytes.Buffer
	require.NoError(t, cashier.TimeRefundOrder(context.Background(), from, g.Clock.Now().Add(time.Minute), &buf))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"refund_id", "trade_id", "m_refund_id", "user", "state", "refund_amount", "refund_currency",
		"acquirer_reference", "refund_description", "refund_time", "refunded_time"}, rows[0])
	require.Len(t, rows, 3)
	got := map[string]string{rows[1][0]: rows[1][5], rows[2][0]: rows[2][5]}
	require.Equal(t, map[string]string{a.RefundID: "2.50", b.RefundID: "1.00"}, got)
	require.Equal(t, "refunded", rows[1][4])

	buf.Reset()
	require.NoError(t, stranger.TimeRefundOrder(context.Background(), from, g.Clock.Now().Add(time.Minute), &buf))
	rows, err = csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1, "another merchant's refunds are not there")
}
