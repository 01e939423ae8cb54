package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// refundTests are the store behaviours of refunds.
var refundTests = []storeTest{
	{"StaleRefunds", testStaleRefunds},
	{"RefundRoundTrip", testRefundRoundTrip},
	{"UpdateRefund", testUpdateRefund},
	{"MerchantRefundRef", testMerchantRefundRef},
	{"CashierRefundAuthority", testCashierRefundAuthority},
	{"RefundRolledBackWithOrder", testRefundRolledBackWithOrder},
	{"ConcurrentRefundRows", testConcurrentRefundRows},
}

func refund(mid int64, tradeID, refundID string, amount int64) posgate.Refund {
	return posgate.Refund{RefundID: refundID, TradeID: tradeID, MerchantID: mid, User: "C1", Amount: amount, Currency: "EUR",
		Description: "refund " + refundID, State: posgate.RefundProcessing, CreatedAt: t0, UpdatedAt: t0}
}

func readRefund(t *testing.T, s posgate.Store, refundID string) posgate.Refund {
	t.Helper()
	r, err := get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.Refund(refundID) })
	require.NoError(t, err)
	return r
}

func testRefundRoundTrip(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T1", "tr-2"))
	amsterdam := time.FixedZone("CEST", 2*60*60)
	full := posgate.Refund{RefundID: "rf-full", TradeID: "tr-1", MerchantID: mid, User: "T1", MRefundID: "m-1",
		Amount: 250, Currency: "EUR", Description: "returned cup", NotifyURL: "https://example.com/r", RequestID: "req-1",
		State: posgate.RefundRefunded, AcquirerRef: "ARN-1", Message: "ok",
		CreatedAt: t0.In(amsterdam), UpdatedAt: t0.Add(time.Second).In(amsterdam), RefundedAt: ptr(t0.Add(2 * time.Second).In(amsterdam)), Version: 3}
	bare := refund(mid, "tr-1", "rf-bare", 100)
	bare.CreatedAt = t0.Add(time.Second)
	later := refund(mid, "tr-1", "rf-later", 100)
	later.CreatedAt = t0.Add(time.Minute)
	other := refund(mid, "tr-2", "rf-other", 100)
	do(t, s, func(tx posgate.Tx) error {
		for _, r := range []posgate.Refund{later, full, bare, other} {
			if err := tx.InsertRefund(r); err != nil {
				return err
			}
		}
		return nil
	})

	want := full
	want.CreatedAt, want.UpdatedAt, want.RefundedAt = t0, t0.Add(time.Second), ptr(t0.Add(2*time.Second))
	require.Equal(t, want, readRefund(t, s, "rf-full"), "every field, times in UTC")
	require.Equal(t, bare, readRefund(t, s, "rf-bare"))

	list, err := get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) { return tx.RefundsForOrder("tr-1") })
	require.NoError(t, err)
	require.Equal(t, []posgate.Refund{want, bare, later}, list, "oldest first")
	list, err = get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) { return tx.RefundsForOrder("tr-none") })
	require.NoError(t, err)
	require.Empty(t, list)

	_, err = get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.Refund("rf-none") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(refund(mid, "tr-1", "rf-bare", 1)) })
	require.ErrorIs(t, err, posgate.ErrDuplicate, "refund id taken")
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(refund(mid, "tr-none", "rf-orphan", 1)) })
	require.ErrorIs(t, err, posgate.ErrNotFound, "unknown order")
}

func testUpdateRefund(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	r := refund(mid, "tr-1", "rf-1", 100)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(r) })

	r.State, r.AcquirerRef, r.UpdatedAt, r.RefundedAt = posgate.RefundRefunded, "ARN-9", t0.Add(time.Minute), ptr(t0.Add(time.Minute))
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateRefund(r) })
	want := r
	want.Version = r.Version + 1
	require.Equal(t, want, readRefund(t, s, "rf-1"))

	err := try(t, s, func(tx posgate.Tx) error { return tx.UpdateRefund(r) })
	require.ErrorIs(t, err, posgate.ErrConflict, "stale version")
	require.Equal(t, want, readRefund(t, s, "rf-1"), "a refused update changes nothing")

	back := want
	back.RefundedAt = nil
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateRefund(back) })
	back.Version++
	require.Equal(t, back, readRefund(t, s, "rf-1"), "times can be unset")

	err = try(t, s, func(tx posgate.Tx) error { return tx.UpdateRefund(refund(mid, "tr-1", "rf-none", 1)) })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testMerchantRefundRef(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	var other int64
	do(t, s, func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant("globex", t0)
		other = m.ID
		if err != nil {
			return err
		}
		if err := tx.InsertTerminal(terminal(m.ID, "G1"), []byte("g")); err != nil {
			return err
		}
		if err := tx.InsertOrder(order(mid, "T1", "tr-1")); err != nil {
			return err
		}
		return tx.InsertOrder(order(m.ID, "G1", "tr-g"))
	})
	mine := refund(mid, "tr-1", "rf-1", 100)
	mine.MRefundID = "R-1"
	do(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(mine) })

	clash := refund(mid, "tr-1", "rf-2", 100)
	clash.MRefundID = "R-1"
	err := try(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(clash) })
	require.ErrorIs(t, err, posgate.ErrDuplicate, "m_refund_id is unique per merchant")
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.Refund("rf-2") })
	require.ErrorIs(t, err, posgate.ErrNotFound)

	theirs := refund(other, "tr-g", "rf-g", 100)
	theirs.MRefundID = "R-1"
	do(t, s, func(tx posgate.Tx) error { return tx.InsertRefund(theirs) })
	do(t, s, func(tx posgate.Tx) error {
		for i := range 3 {
			if err := tx.InsertRefund(refund(mid, "tr-1", fmt.Sprintf("rf-anon-%d", i), 10)); err != nil {
				return err
			}
		}
		return nil
	})

	got, err := get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.RefundByMerchantRef(mid, "R-1") })
	require.NoError(t, err)
	require.Equal(t, mine, got)
	got, err = get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.RefundByMerchantRef(other, "R-1") })
	require.NoError(t, err)
	require.Equal(t, theirs, got)
	for _, ref := range []string{"R-2", ""} {
		_, err = get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.RefundByMerchantRef(mid, ref) })
		require.ErrorIs(t, err, posgate.ErrNotFound, "ref %q", ref)
	}
}

func testCashierRefundAuthority(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	do(t, s, func(tx posgate.Tx) error {
		for _, c := range []posgate.Cashier{
			{UID: "C2", MerchantID: mid, RefundAuthority: posgate.RefundApproval, CreatedAt: t0},
			{UID: "C3", MerchantID: mid, RefundAuthority: posgate.RefundDisabled, CreatedAt: t0},
			{UID: "C4", MerchantID: mid, RefundAuthority: posgate.RefundImmediate, CreatedAt: t0},
		} {
			if err := tx.InsertCashier(c, []byte("s")); err != nil {
				return err
			}
		}
		return nil
	})
	cs, err := get(t, s, func(tx posgate.Tx) ([]posgate.Cashier, error) { return tx.Cashiers() })
	require.NoError(t, err)
	got := map[string]posgate.RefundAuthority{}
	for _, c := range cs {
		got[c.UID] = c.RefundAuthority
	}
	require.Equal(t, map[string]posgate.RefundAuthority{"C1": "", "C2": posgate.RefundApproval, "C3": posgate.RefundDisabled, "C4": posgate.RefundImmediate}, got,
		"stored as given; empty means immediate")
}

// A refund and the order's refunded total commit together: when the
// order's bound refuses the total, the refund row is gone too.
func testRefundRolledBackWithOrder(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1")) // amount 1000
	err := try(t, s, func(tx posgate.Tx) error {
		o, err := tx.Order("tr-1")
		if err != nil {
			return err
		}
		if err := tx.InsertRefund(refund(mid, "tr-1", "rf-over", 1001)); err != nil {
			return err
		}
		o.RefundedAmount, o.RefundCount = 1001, 1
		return tx.UpdateOrder(o)
	})
	require.ErrorIs(t, err, posgate.ErrRefundNotAllowed)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Refund, error) { return tx.Refund("rf-over") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	require.Equal(t, int64(0), readOrder(t, s, "tr-1").RefundedAmount)
}

// testConcurrentRefundRows is the service's write pattern: read the order,
// insert the refund and raise the order's total in one transaction. Under
// contention the refunds that fit are all kept and the others leave no row.
func testConcurrentRefundRows(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1")) // amount 1000
	const amount, workers = 70, 20               // 14 fit, 6 do not
	ctx := context.Background()
	errs := race(workers, func(i int) error {
		for {
			err := s.InTx(ctx, func(tx posgate.Tx) error {
				o, err := tx.Order("tr-1")
				if err != nil {
					return err
				}
				if err := tx.InsertRefund(refund(mid, "tr-1", fmt.Sprintf("rf-%d", i), amount)); err != nil {
					return err
				}
				o.RefundedAmount += amount
				o.RefundCount++
				return tx.UpdateOrder(o)
			})
			if !errors.Is(err, posgate.ErrConflict) {
				return err
			}
		}
	})
	fits := int(1000 / amount)
	requireRefused(t, errs, workers-fits)
	rows, err := get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) { return tx.RefundsForOrder("tr-1") })
	require.NoError(t, err)
	require.Len(t, rows, fits)
	o := readOrder(t, s, "tr-1")
	require.Equal(t, int64(fits*amount), o.RefundedAmount)
	require.Equal(t, fits, o.RefundCount)
}

func testStaleRefunds(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	old, fresh, done := refund(mid, "tr-1", "rf-old", 100), refund(mid, "tr-1", "rf-fresh", 100), refund(mid, "tr-1", "rf-done", 100)
	fresh.UpdatedAt = t0.Add(time.Minute)
	done.State = posgate.RefundRefunded
	do(t, s, func(tx posgate.Tx) error {
		for _, r := range []posgate.Refund{fresh, done, old} {
			if err := tx.InsertRefund(r); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(before time.Time, limit int) []string {
		rs, err := get(t, s, func(tx posgate.Tx) ([]posgate.Refund, error) {
			return tx.StaleRefunds(posgate.RefundProcessing, before, limit)
		})
		require.NoError(t, err)
		var out []string
		for _, r := range rs {
			out = append(out, r.RefundID)
		}
		return out
	}
	require.Equal(t, []string{"rf-old"}, ids(t0, 10), "only refunds in the state, updated at or before")
	require.Equal(t, []string{"rf-old", "rf-fresh"}, ids(t0.Add(time.Hour), 10), "oldest first")
	require.Equal(t, []string{"rf-old"}, ids(t0.Add(time.Hour), 1))
}
