// Package storetest is the conformance suite of posgate.Store: every
// store behaviour is tested here, once, and each implementation runs it.
//
// Cases that expect an error run that statement in its own InTx, as a
// failed statement aborts the whole transaction in PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// Run runs the suite. open returns a new, empty store for one test; Run
// closes it.
func Run(t *testing.T, open func(t *testing.T) posgate.Store) {
	tests := []storeTest{
		{"Merchants", testMerchants},
		{"Credentials", testCredentials},
		{"Requests", testRequests},
		{"OrderRoundTrip", testOrderRoundTrip},
		{"UpdateOrder", testUpdateOrder},
		{"RefundBound", testRefundBound},
		{"ExpiredOrders", testExpiredOrders},
		{"ClearOrders", testClearOrders},
		{"Reversals", testReversals},
		{"Commands", testCommands},
		{"CommandForTrade", testCommandForTrade},
		{"QueuedCommands", testQueuedCommands},
		{"Events", testEvents},
		{"Nonces", testNonces},
		{"Notifications", testNotifications},
		{"RolledBack", testRolledBack},
		{"ConcurrentReversals", testConcurrentReversals},
		{"ConcurrentCommands", testConcurrentCommands},
		{"ConcurrentFinish", testConcurrentFinish},
		{"ConcurrentRefunds", testConcurrentRefunds},
		{"ReceiptNeverAFullPAN", testReceiptNeverAFullPAN},
	}
	tests = append(tests, refundTests...)
	tests = append(tests, captureTests...)
	tests = append(tests, decrementTests...)
	tests = append(tests, exportTests...)
	tests = append(tests, notificationTests...)
	tests = append(tests, readTests...)
	tests = append(tests, operatorReadTests...)
	tests = append(tests, operatorTests...)
	tests = append(tests, batchedTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

// requireRefused checks that exactly n of errs are set, each the
// refund bound's refusal, and the others nil.
func requireRefused(t *testing.T, errs []error, n int) {
	t.Helper()
	refused := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, posgate.ErrRefundNotAllowed)
			refused++
		}
	}
	require.Equal(t, n, refused)
}

// storeTest is one behaviour every store must have.
type storeTest struct {
	name string
	fn   func(t *testing.T, s posgate.Store)
}

// t0 has microsecond precision, which every store keeps.
var t0 = time.Date(2025, 3, 30, 21, 45, 10, 123456000, time.UTC)

// do runs fn in a transaction that must commit.
func do(t *testing.T, s posgate.Store, fn func(tx posgate.Tx) error) {
	t.Helper()
	require.NoError(t, s.InTx(t.Context(), fn))
}

// get runs one read or write in its own transaction.
func get[T any](t *testing.T, s posgate.Store, fn func(tx posgate.Tx) (T, error)) (T, error) {
	var v T
	err := s.InTx(t.Context(), func(tx posgate.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

// try runs one write in its own transaction.
func try(t *testing.T, s posgate.Store, fn func(tx posgate.Tx) error) error {
	return s.InTx(t.Context(), fn)
}

func ptr(t time.Time) *time.Time { return &t }

// seed adds merchant "acme" with terminals T1 and T2 and cashier C1.
func seed(t *testing.T, s posgate.Store) int64 {
	t.Helper()
	var mid int64
	do(t, s, func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant("acme", t0)
		if err != nil {
			return err
		}
		mid = m.ID
		for _, tid := range []string{"T1", "T2"} {
			if err := tx.InsertTerminal(terminal(mid, tid), []byte("sealed-"+tid)); err != nil {
				return err
			}
		}
		return tx.InsertCashier(posgate.Cashier{UID: "C1", MerchantID: mid, CreatedAt: t0}, []byte("sealed-C1"))
	})
	return mid
}

func terminal(mid int64, tid string) posgate.Terminal {
	return posgate.Terminal{TID: tid, MerchantID: mid, Timezone: posgate.DefaultTimezone, Currency: posgate.DefaultCurrency,
		CutoffMinutes: posgate.DefaultCutoff, CreatedAt: t0}
}

// order is a paid sale on tid.
func order(mid int64, tid, tradeID string) posgate.Order {
	return posgate.Order{TradeID: tradeID, MerchantID: mid, TID: tid, User: tid, OrderID: "order-" + tradeID,
		Operation: posgate.OpSale, Amount: 1000, Currency: "EUR", State: posgate.StatePaid,
		CreatedAt: t0, UpdatedAt: t0, PaidAt: ptr(t0), BusinessDate: "2025-03-30", ExpiresAt: t0.Add(5 * time.Minute)}
}

func insertOrders(t *testing.T, s posgate.Store, orders ...posgate.Order) {
	t.Helper()
	do(t, s, func(tx posgate.Tx) error {
		for _, o := range orders {
			if err := tx.InsertOrder(o); err != nil {
				return err
			}
		}
		return nil
	})
}

func readOrder(t *testing.T, s posgate.Store, tradeID string) posgate.Order {
	t.Helper()
	o, err := get(t, s, func(tx posgate.Tx) (posgate.Order, error) { return tx.Order(tradeID) })
	require.NoError(t, err)
	return o
}

func command(id, tid, tradeID string, kind posgate.CommandKind, created time.Time) posgate.Command {
	return posgate.Command{ID: id, TID: tid, Kind: kind, TradeID: tradeID, State: posgate.CommandInFlight, CreatedAt: created}
}

func testMerchants(t *testing.T, s posgate.Store) {
	first, err := get(t, s, func(tx posgate.Tx) (posgate.Merchant, error) { return tx.EnsureMerchant("acme", t0) })
	require.NoError(t, err)
	require.Equal(t, posgate.Merchant{ID: first.ID, Name: "acme", CreatedAt: t0}, first)

	again, err := get(t, s, func(tx posgate.Tx) (posgate.Merchant, error) { return tx.EnsureMerchant("acme", t0.Add(time.Hour)) })
	require.NoError(t, err)
	require.Equal(t, first, again, "EnsureMerchant returns the existing merchant unchanged")

	other, err := get(t, s, func(tx posgate.Tx) (posgate.Merchant, error) { return tx.EnsureMerchant("other", t0) })
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID)

	got, err := get(t, s, func(tx posgate.Tx) (posgate.Merchant, error) { return tx.Merchant(first.ID) })
	require.NoError(t, err)
	require.Equal(t, first, got)

	_, err = get(t, s, func(tx posgate.Tx) (posgate.Merchant, error) { return tx.Merchant(other.ID + 100) })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testCredentials(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	// Out of order, to see the lists sorted.
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertTerminal(terminal(mid, "A0"), []byte("x")); err != nil {
			return err
		}
		return tx.InsertCashier(posgate.Cashier{UID: "B0", MerchantID: mid, CreatedAt: t0}, []byte("y"))
	})

	p, err := get(t, s, func(tx posgate.Tx) (posgate.Principal, error) { return tx.Principal("T1") })
	require.NoError(t, err)
	require.Equal(t, posgate.Principal{User: "T1", Kind: posgate.KindTerminal, MerchantID: mid, SealedSecret: []byte("sealed-T1"), CreatedAt: t0}, p)
	p, err = get(t, s, func(tx posgate.Tx) (posgate.Principal, error) { return tx.Principal("C1") })
	require.NoError(t, err)
	require.Equal(t, posgate.Principal{User: "C1", Kind: posgate.KindCashier, MerchantID: mid, SealedSecret: []byte("sealed-C1"), CreatedAt: t0}, p)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Principal, error) { return tx.Principal("nobody") })
	require.ErrorIs(t, err, posgate.ErrNotFound)

	term, err := get(t, s, func(tx posgate.Tx) (posgate.Terminal, error) { return tx.Terminal("T2") })
	require.NoError(t, err)
	require.Equal(t, terminal(mid, "T2"), term)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Terminal, error) { return tx.Terminal("C1") })
	require.ErrorIs(t, err, posgate.ErrNotFound, "a cashier is no terminal")

	terms, err := get(t, s, func(tx posgate.Tx) ([]posgate.Terminal, error) { return tx.Terminals() })
	require.NoError(t, err)
	require.Equal(t, []posgate.Terminal{terminal(mid, "A0"), terminal(mid, "T1"), terminal(mid, "T2")}, terms)
	cashiers, err := get(t, s, func(tx posgate.Tx) ([]posgate.Cashier, error) { return tx.Cashiers() })
	require.NoError(t, err)
	require.Equal(t, []posgate.Cashier{{UID: "B0", MerchantID: mid, CreatedAt: t0}, {UID: "C1", MerchantID: mid, CreatedAt: t0}}, cashiers)

	t.Run("NamesShareOneNamespace", func(t *testing.T) {
		for _, name := range []string{"T1", "C1"} {
			err := try(t, s, func(tx posgate.Tx) error { return tx.InsertTerminal(terminal(mid, name), []byte("z")) })
			require.ErrorIs(t, err, posgate.ErrDuplicate, "terminal named %s", name)
			err = try(t, s, func(tx posgate.Tx) error {
				return tx.InsertCashier(posgate.Cashier{UID: name, MerchantID: mid, CreatedAt: t0}, []byte("z"))
			})
			require.ErrorIs(t, err, posgate.ErrDuplicate, "cashier named %s", name)
		}
		p, err := get(t, s, func(tx posgate.Tx) (posgate.Principal, error) { return tx.Principal("T1") })
		require.NoError(t, err)
		require.Equal(t, []byte("sealed-T1"), p.SealedSecret, "the refused insert left the principal alone")
	})

	t.Run("UnknownMerchant", func(t *testing.T) {
		err := try(t, s, func(tx posgate.Tx) error { return tx.InsertTerminal(terminal(mid+100, "T9"), []byte("z")) })
		require.ErrorIs(t, err, posgate.ErrNotFound)
	})
}

func testRequests(t *testing.T, s posgate.Store) {
	seed(t, s)
	r := posgate.RequestRecord{User: "T1", RequestID: "req-1", Method: "v3.POSPay", Fingerprint: "fp", TradeID: "tr-1", CreatedAt: t0}
	do(t, s, func(tx posgate.Tx) error { return tx.InsertRequest(r) })

	got, err := get(t, s, func(tx posgate.Tx) (posgate.RequestRecord, error) { return tx.Request("T1", "req-1") })
	require.NoError(t, err)
	require.Equal(t, r, got)

	dup := r
	dup.Fingerprint = "other"
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertRequest(dup) })
	require.ErrorIs(t, err, posgate.ErrDuplicateRequest)

	mine := r
	mine.User = "C1"
	do(t, s, func(tx posgate.Tx) error { return tx.InsertRequest(mine) })

	_, err = get(t, s, func(tx posgate.Tx) (posgate.RequestRecord, error) { return tx.Request("T2", "req-1") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testOrderRoundTrip(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	amsterdam := time.FixedZone("CEST", 2*60*60)
	in := posgate.Order{
		TradeID: "tr-full", MerchantID: mid, TID: "T1", User: "T1", OrderID: "o-1", Operation: posgate.OpAuthorisation,
		Amount: 1250, TipAmount: 250, Currency: "EUR", Description: "coffee", Demo: "yes", NotifyURL: "https://example.com/n",
		PayMethod: "card", SubPayMethod: "visa", State: posgate.StateAuthorized, TransactionID: "acq-1", Receipt: visaChip,
		RefundedAmount: 100, RefundCount: 1,
		CreatedAt: t0.In(amsterdam), UpdatedAt: t0.Add(time.Second).In(amsterdam), PaidAt: ptr(t0.Add(2 * time.Second).In(amsterdam)),
		BusinessDate: "2025-03-30", ClearedAt: ptr(t0.Add(3 * time.Second).In(amsterdam)), ExpiresAt: t0.Add(4 * time.Second).In(amsterdam),
		Reconciliation: posgate.LateApprovalReversing, Version: 7,
	}
	bare := order(mid, "T2", "tr-bare")
	bare.PaidAt = nil
	insertOrders(t, s, in, bare)

	want := in
	want.CreatedAt, want.UpdatedAt, want.ExpiresAt = t0, t0.Add(time.Second), t0.Add(4*time.Second)
	want.PaidAt, want.ClearedAt = ptr(t0.Add(2*time.Second)), ptr(t0.Add(3*time.Second))
	require.Equal(t, want, readOrder(t, s, "tr-full"), "every field, times in UTC")
	require.Equal(t, bare, readOrder(t, s, "tr-bare"))

	err := try(t, s, func(tx posgate.Tx) error { return tx.InsertOrder(order(mid, "T1", "tr-bare")) })
	require.ErrorIs(t, err, posgate.ErrDuplicate)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Order, error) { return tx.Order("tr-none") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertOrder(order(mid+100, "T1", "tr-orphan")) })
	require.ErrorIs(t, err, posgate.ErrNotFound, "unknown merchant")
}

// visaChip is a chip approval's receipt data.
var visaChip = posgate.Receipt{CardBrand: "Visa", MaskedPAN: "411111******1111", EntryMode: posgate.EntryChip,
	AuthCode: "A1B2C3", AID: "A0000000031010"}

// testReceiptNeverAFullPAN: the database itself refuses a masked PAN with
// more than 6 digits in a row, on orders and on commands.
func testReceiptNeverAFullPAN(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-pan")
	o.Receipt = visaChip
	o.Receipt.MaskedPAN = "4111111111111111"
	require.Error(t, try(t, s, func(tx posgate.Tx) error { return tx.InsertOrder(o) }))
	o.Receipt = visaChip
	insertOrders(t, s, o)
	o.Receipt.MaskedPAN = "4111111******111"
	require.Error(t, try(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(o) }))
	require.Equal(t, visaChip, readOrder(t, s, "tr-pan").Receipt)

	c := command("cmd-pan", "T1", "tr-pan", posgate.CommandSale, t0)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCommand(c) })
	c.State, c.Outcome, c.FinishedAt, c.Receipt = posgate.CommandDone, posgate.OutcomeApproved, ptr(t0), visaChip
	c.Receipt.MaskedPAN = "5555555555554444"
	_, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCommand(c) })
	require.Error(t, err)
	got, err := get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-pan") })
	require.NoError(t, err)
	require.Equal(t, posgate.CommandInFlight, got.State, "nothing recorded")
}

func testUpdateOrder(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-1")
	o.State, o.PaidAt = posgate.StateProcessing, nil
	insertOrders(t, s, o)

	o.State, o.TransactionID, o.PaidAt, o.UpdatedAt = posgate.StatePaid, "acq-9", ptr(t0.Add(time.Minute)), t0.Add(time.Minute)
	o.Description, o.PayMethod, o.SubPayMethod, o.ClearedAt = "paid", "card", "mastercard", ptr(t0.Add(time.Hour))
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(o) })
	want := o
	want.Version = o.Version + 1
	require.Equal(t, want, readOrder(t, s, "tr-1"))

	err := try(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(o) })
	require.ErrorIs(t, err, posgate.ErrConflict, "stale version")
	require.Equal(t, want, readOrder(t, s, "tr-1"), "a refused update changes nothing")

	back := want
	back.PaidAt, back.ClearedAt = nil, nil
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(back) })
	back.Version++
	require.Equal(t, back, readOrder(t, s, "tr-1"), "times can be unset")

	err = try(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(order(mid, "T1", "tr-none")) })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testRefundBound(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-1")
	insertOrders(t, s, o)

	for _, refunded := range []int64{o.Amount + 1, -1} {
		over := o
		over.RefundedAmount = refunded
		err := try(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(over) })
		require.ErrorIs(t, err, posgate.ErrRefundNotAllowed, "refunded %d of %d", refunded, o.Amount)
	}
	full := o
	full.RefundedAmount, full.RefundCount = o.Amount, 2
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(full) })
	require.Equal(t, o.Amount, readOrder(t, s, "tr-1").RefundedAmount)

	over := order(mid, "T1", "tr-2")
	over.RefundedAmount = over.Amount + 1
	err := try(t, s, func(tx posgate.Tx) error { return tx.InsertOrder(over) })
	require.ErrorIs(t, err, posgate.ErrRefundNotAllowed)
}

func testExpiredOrders(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	now := t0.Add(time.Hour)
	mk := func(tradeID string, state posgate.State, expires time.Time) posgate.Order {
		o := order(mid, "T1", tradeID)
		o.State, o.PaidAt, o.ExpiresAt = state, nil, expires
		return o
	}
	early := mk("tr-early", posgate.StatePending, now.Add(-time.Minute))
	exact := mk("tr-exact", posgate.StateProcessing, now)
	insertOrders(t, s, exact, early,
		mk("tr-later", posgate.StatePending, now.Add(time.Microsecond)),
		mk("tr-paid", posgate.StatePaid, now.Add(-time.Minute)),
		mk("tr-failed", posgate.StateFailed, now.Add(-time.Minute)),
	)

	got, err := get(t, s, func(tx posgate.Tx) ([]posgate.Order, error) { return tx.ExpiredOrders(now, 10) })
	require.NoError(t, err)
	require.ElementsMatch(t, []posgate.Order{early, exact}, got)

	got, err = get(t, s, func(tx posgate.Tx) ([]posgate.Order, error) { return tx.ExpiredOrders(now, 1) })
	require.NoError(t, err)
	require.Len(t, got, 1, "limit")
}

func testClearOrders(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	now := t0.Add(24 * time.Hour)
	mk := func(tradeID, tid string, state posgate.State, day string) posgate.Order {
		o := order(mid, tid, tradeID)
		o.State, o.BusinessDate = state, day
		return o
	}
	cleared := mk("tr-cleared", "T1", posgate.StatePaid, "2025-03-28")
	cleared.ClearedAt = ptr(t0.Add(-24 * time.Hour))
	untouched := []posgate.Order{
		cleared,
		mk("tr-today", "T1", posgate.StatePaid, "2025-03-31"),
		mk("tr-pending", "T1", posgate.StatePending, "2025-03-29"),
		mk("tr-cancelled", "T1", posgate.StateCancelled, "2025-03-29"),
		mk("tr-other-terminal", "T2", posgate.StatePaid, "2025-03-29"),
	}
	clear := []posgate.Order{
		mk("tr-paid", "T1", posgate.StatePaid, "2025-03-29"),
		mk("tr-authorized", "T1", posgate.StateAuthorized, "2025-03-30"),
	}
	insertOrders(t, s, append(untouched, clear...)...)

	n, err := get(t, s, func(tx posgate.Tx) (int, error) { return tx.ClearOrders("T1", "2025-03-30", now) })
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, o := range clear {
		want := o
		want.ClearedAt, want.Version = ptr(now), o.Version+1
		require.Equal(t, want, readOrder(t, s, o.TradeID))
	}
	for _, o := range untouched {
		require.Equal(t, o, readOrder(t, s, o.TradeID))
	}

	n, err = get(t, s, func(tx posgate.Tx) (int, error) { return tx.ClearOrders("T1", "2025-03-30", now.Add(time.Hour)) })
	require.NoError(t, err)
	require.Zero(t, n, "idempotent")

	// Clearing is an update: whoever read the order before must not write
	// ClearedAt back.
	err = try(t, s, func(tx posgate.Tx) error { return tx.UpdateOrder(clear[0]) })
	require.ErrorIs(t, err, posgate.ErrConflict)
}

func testReversals(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	first := posgate.Reversal{ID: "rv-1", TradeID: "tr-1", TID: "T1", RequestID: "req-1", CommandID: "cmd-1",
		State: posgate.ReversalInFlight, CreatedAt: t0}
	do(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(first) })

	active, err := get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ActiveReversal("tr-1") })
	require.NoError(t, err)
	require.Equal(t, first, active)

	second := first
	second.ID, second.RequestID, second.CommandID = "rv-2", "req-2", "cmd-2"
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(second) })
	require.ErrorIs(t, err, posgate.ErrReversalInFlight)

	declined := first
	declined.State, declined.Reason, declined.FinishedAt = posgate.ReversalDeclined, "card removed", ptr(t0.Add(time.Second))
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateReversal(declined) })
	byCommand, err := get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ReversalByCommand("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, declined, byCommand)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ActiveReversal("tr-1") })
	require.ErrorIs(t, err, posgate.ErrNotFound)

	do(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(second) })
	approved := second
	approved.State, approved.FinishedAt = posgate.ReversalApproved, ptr(t0.Add(time.Minute))
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateReversal(approved) })
	active, err = get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ActiveReversal("tr-1") })
	require.NoError(t, err)
	require.Equal(t, approved, active)

	third := first
	third.ID, third.CommandID = "rv-3", "cmd-3"
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(third) })
	require.ErrorIs(t, err, posgate.ErrReversalInFlight, "an approved reversal blocks another")
	retried := declined
	retried.State = posgate.ReversalInFlight
	err = try(t, s, func(tx posgate.Tx) error { return tx.UpdateReversal(retried) })
	require.ErrorIs(t, err, posgate.ErrReversalInFlight, "nor can a declined one come back")

	err = try(t, s, func(tx posgate.Tx) error {
		return tx.UpdateReversal(posgate.Reversal{ID: "rv-none", TradeID: "tr-1", State: posgate.ReversalDeclined, CreatedAt: t0})
	})
	require.ErrorIs(t, err, posgate.ErrNotFound)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ReversalByCommand("cmd-none") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	orphan := third
	orphan.TradeID = "tr-none"
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(orphan) })
	require.ErrorIs(t, err, posgate.ErrNotFound, "unknown order")
}

func testCommands(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T2", "tr-2"))
	c := command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCommand(c) })

	got, err := get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, c, got)
	got, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.InFlightCommand("T1") })
	require.NoError(t, err)
	require.Equal(t, c, got)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.InFlightCommand("T2") })
	require.ErrorIs(t, err, posgate.ErrNotFound)

	err = try(t, s, func(tx posgate.Tx) error {
		return tx.InsertCommand(command("cmd-2", "T1", "tr-1", posgate.CommandReversal, t0.Add(time.Second)))
	})
	require.ErrorIs(t, err, posgate.ErrTerminalBusy)
	do(t, s, func(tx posgate.Tx) error {
		return tx.InsertCommand(command("cmd-3", "T2", "tr-2", posgate.CommandSale, t0))
	})

	done := c
	done.State, done.Outcome, done.TransactionID, done.Message, done.Receipt, done.FinishedAt =
		posgate.CommandDone, posgate.OutcomeApproved, "acq-1", "APPROVED", visaChip, ptr(t0.Add(time.Minute))
	ok, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCommand(done) })
	require.NoError(t, err)
	require.True(t, ok)
	got, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, done, got)

	late := done
	late.State, late.Outcome = posgate.CommandAbandoned, posgate.OutcomeCancelled
	ok, err = get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCommand(late) })
	require.NoError(t, err)
	require.False(t, ok, "a result applies once")
	got, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, done, got)

	_, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.InFlightCommand("T1") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	do(t, s, func(tx posgate.Tx) error {
		return tx.InsertCommand(command("cmd-4", "T1", "tr-1", posgate.CommandReversal, t0.Add(time.Hour)))
	})

	_, err = get(t, s, func(tx posgate.Tx) (bool, error) {
		return tx.FinishCommand(command("cmd-none", "T1", "tr-1", posgate.CommandSale, t0))
	})
	require.ErrorIs(t, err, posgate.ErrNotFound)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-none") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testCommandForTrade(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	finish := func(c posgate.Command) posgate.Command {
		c.State, c.Outcome, c.FinishedAt = posgate.CommandDone, posgate.OutcomeDeclined, ptr(c.CreatedAt.Add(time.Second))
		return c
	}
	// One at a time, as a terminal has at most one in flight.
	sale := finish(command("cmd-sale", "T1", "tr-1", posgate.CommandSale, t0))
	older := finish(command("cmd-rev-1", "T1", "tr-1", posgate.CommandReversal, t0.Add(time.Minute)))
	newer := command("cmd-rev-2", "T1", "tr-1", posgate.CommandReversal, t0.Add(2*time.Minute))
	for _, c := range []posgate.Command{sale, older, newer} {
		do(t, s, func(tx posgate.Tx) error {
			in := c
			in.State, in.Outcome, in.FinishedAt = posgate.CommandInFlight, "", nil
			if err := tx.InsertCommand(in); err != nil || c.State == posgate.CommandInFlight {
				return err
			}
			_, err := tx.FinishCommand(c)
			return err
		})
	}

	got, err := get(t, s, func(tx posgate.Tx) (posgate.Command, error) {
		return tx.CommandForTrade("tr-1", posgate.CommandReversal)
	})
	require.NoError(t, err)
	require.Equal(t, newer, got)
	got, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.CommandForTrade("tr-1", posgate.CommandSale) })
	require.NoError(t, err)
	require.Equal(t, sale, got)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) {
		return tx.CommandForTrade("tr-1", posgate.CommandAuthorisation)
	})
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testEvents(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	events := []posgate.CommandEvent{
		{CommandID: "cmd-1", Stage: "received", At: t0},
		{CommandID: "cmd-1", Stage: "on_screen", Message: "Present card", At: t0},
		{CommandID: "cmd-1", Stage: "approved", Message: "APPROVED", At: t0.Add(time.Second)},
	}
	more := []posgate.CommandEvent{
		{CommandID: "cmd-2", Stage: "received", At: t0},
		{CommandID: "cmd-1", Stage: "printed", At: t0.Add(time.Second)},
		{CommandID: "cmd-2", Stage: "on_screen", Message: "Present card", At: t0},
	}
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertCommand(command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0)); err != nil {
			return err
		}
		if err := tx.InsertCommand(command("cmd-2", "T2", "tr-1", posgate.CommandReversal, t0)); err != nil {
			return err
		}
		for _, e := range events {
			if err := tx.InsertEvent(e); err != nil {
				return err
			}
		}
		return tx.InsertEvent(more...)
	})
	require.ErrorIs(t, try(t, s, func(tx posgate.Tx) error {
		return tx.InsertEvent(posgate.CommandEvent{CommandID: "cmd-1", Stage: "x", At: t0}, posgate.CommandEvent{CommandID: "cmd-none", Stage: "x", At: t0})
	}), posgate.ErrNotFound, "an event of a command that does not exist")
	require.NoError(t, try(t, s, func(tx posgate.Tx) error { return tx.InsertEvent() }))

	got, err := get(t, s, func(tx posgate.Tx) ([]posgate.CommandEvent, error) { return tx.Events("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, append(events, more[1]), got, "in the order reported, none of the failed batch")
	got, err = get(t, s, func(tx posgate.Tx) ([]posgate.CommandEvent, error) { return tx.Events("cmd-2") })
	require.NoError(t, err)
	require.Equal(t, []posgate.CommandEvent{more[0], more[2]}, got, "equal times in the order inserted")
	got, err = get(t, s, func(tx posgate.Tx) ([]posgate.CommandEvent, error) { return tx.Events("cmd-none") })
	require.NoError(t, err)
	require.Empty(t, got)

	cmds, err := get(t, s, func(tx posgate.Tx) ([]posgate.Command, error) {
		return tx.CommandsByID([]string{"cmd-2", "cmd-none", "cmd-1"})
	})
	require.NoError(t, err)
	slices.SortFunc(cmds, func(a, b posgate.Command) int { return strings.Compare(a.ID, b.ID) })
	require.Equal(t, []posgate.Command{command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0),
		command("cmd-2", "T2", "tr-1", posgate.CommandReversal, t0)}, cmds, "the ones that exist")
	cmds, err = get(t, s, func(tx posgate.Tx) ([]posgate.Command, error) { return tx.CommandsByID(nil) })
	require.NoError(t, err)
	require.Empty(t, cmds)
}

func testNonces(t *testing.T, s posgate.Store) {
	seed(t, s)
	use := func(tid, nonce string, now time.Time) error {
		return try(t, s, func(tx posgate.Tx) error { return tx.UseNonce(tid, nonce, now.Add(time.Minute), now) })
	}
	require.NoError(t, use("T1", "n-1", t0))
	require.ErrorIs(t, use("T1", "n-1", t0.Add(59*time.Second)), posgate.ErrDuplicate)
	require.NoError(t, use("T2", "n-1", t0), "nonces are per terminal")
	require.NoError(t, use("T1", "n-1", t0.Add(time.Minute)), "expired, so purged")
	require.ErrorIs(t, use("T1", "n-1", t0.Add(time.Minute)), posgate.ErrDuplicate)
}

func notification(mid int64, id string) posgate.Notification {
	return posgate.Notification{ID: id, MerchantID: mid, User: "T1", TradeID: "tr-1", NotifyURL: "https://example.com/n",
		Payload: map[string]string{"trade_id": "tr-1", "state": "paid"}, CreatedAt: t0, NextAttempt: t0}
}

func testNotifications(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	n := notification(mid, "nt-1")
	do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(n) })
	err := try(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(n) })
	require.ErrorIs(t, err, posgate.ErrDuplicate)

	delivered := notification(mid, "nt-2")
	delivered.Payload, delivered.Attempts, delivered.DeliveredAt, delivered.LastError = nil, 2, ptr(t0), "503"
	do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(delivered) })
}

func testRolledBack(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	errBoom := errors.New("boom")
	calls := 0
	err := s.InTx(t.Context(), func(tx posgate.Tx) error {
		calls++
		if err := tx.InsertOrder(order(mid, "T1", "tr-1")); err != nil {
			return err
		}
		if err := tx.InsertRequest(posgate.RequestRecord{User: "T1", RequestID: "req-1", TradeID: "tr-1", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.InsertNotification(notification(mid, "nt-1")); err != nil {
			return err
		}
		return fmt.Errorf("after the writes: %w", errBoom)
	})
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, "after the writes: boom", err.Error(), "fn's error, unchanged")
	require.Equal(t, 1, calls, "only serialization failures are retried")

	_, err = get(t, s, func(tx posgate.Tx) (posgate.Order, error) { return tx.Order("tr-1") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	_, err = get(t, s, func(tx posgate.Tx) (posgate.RequestRecord, error) { return tx.Request("T1", "req-1") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	// The Tx cannot read notifications: inserting the id again proves it absent.
	do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(notification(mid, "nt-1")) })
}

// race runs fn on n goroutines released at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// requireOneWinner checks that exactly one error is nil and the others are
// refused.
func requireOneWinner(t *testing.T, errs []error, refused error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, refused)
	}
	require.Equal(t, 1, won)
}

func testConcurrentReversals(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	ctx := context.Background()
	errs := race(50, func(i int) error {
		return s.InTx(ctx, func(tx posgate.Tx) error {
			return tx.InsertReversal(posgate.Reversal{ID: fmt.Sprintf("rv-%d", i), TradeID: "tr-1", TID: "T1",
				RequestID: fmt.Sprintf("req-%d", i), CommandID: fmt.Sprintf("cmd-%d", i), State: posgate.ReversalInFlight, CreatedAt: t0})
		})
	})
	requireOneWinner(t, errs, posgate.ErrReversalInFlight)
}

func testConcurrentCommands(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	ctx := context.Background()
	errs := race(50, func(i int) error {
		return s.InTx(ctx, func(tx posgate.Tx) error {
			return tx.InsertCommand(command(fmt.Sprintf("cmd-%d", i), "T1", "tr-1", posgate.CommandSale, t0))
		})
	})
	requireOneWinner(t, errs, posgate.ErrTerminalBusy)
}

func testConcurrentFinish(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"))
	c := command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCommand(c) })

	errNotApplied := errors.New("not applied")
	ctx := context.Background()
	errs := race(50, func(i int) error {
		done := c
		done.State, done.Outcome, done.Message, done.FinishedAt = posgate.CommandDone, posgate.OutcomeApproved, fmt.Sprint(i), ptr(t0)
		return s.InTx(ctx, func(tx posgate.Tx) error {
			ok, err := tx.FinishCommand(done)
			if err == nil && !ok {
				err = errNotApplied
			}
			return err
		})
	})
	requireOneWinner(t, errs, errNotApplied)
}

// testConcurrentRefunds reads and updates in separate transactions, so the
// compare-and-set, not the transaction, is what keeps refunds from being
// lost; the database alone refuses the ones that do not fit.
func testConcurrentRefunds(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1")) // amount 1000
	const refund, workers = 70, 20               // 14 fit, 6 do not
	ctx := context.Background()
	errs := race(workers, func(int) error {
		for {
			var o posgate.Order
			err := s.InTx(ctx, func(tx posgate.Tx) error {
				var err error
				o, err = tx.Order("tr-1")
				return err
			})
			if err != nil {
				return err
			}
			o.RefundedAmount += refund
			o.RefundCount++
			err = s.InTx(ctx, func(tx posgate.Tx) error { return tx.UpdateOrder(o) })
			if !errors.Is(err, posgate.ErrConflict) {
				return err
			}
		}
	})

	fits := int(1000 / refund)
	requireRefused(t, errs, workers-fits)
	o := readOrder(t, s, "tr-1")
	require.Equal(t, int64(fits*refund), o.RefundedAmount)
	require.Equal(t, fits, o.RefundCount)
	require.Equal(t, int64(fits), o.Version)
}

// testQueuedCommands: a queued command waits outside the one-in-flight
// rule and starts once, when its terminal is free.
func testQueuedCommands(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-1"), order(mid, "T1", "tr-2"))
	busy := command("cmd-busy", "T1", "tr-1", posgate.CommandSale, t0)
	q1 := command("cmd-q1", "T1", "tr-2", posgate.CommandReversal, t0.Add(time.Second))
	q1.State = posgate.CommandQueued
	q2 := command("cmd-q2", "T1", "tr-1", posgate.CommandReversal, t0.Add(2*time.Second))
	q2.State = posgate.CommandQueued
	do(t, s, func(tx posgate.Tx) error {
		for _, c := range []posgate.Command{busy, q2, q1} {
			if err := tx.InsertCommand(c); err != nil {
				return err
			}
		}
		return tx.InsertReversal(posgate.Reversal{ID: "rv-1", TradeID: "tr-2", TID: "T1", CommandID: "cmd-q1",
			State: posgate.ReversalInFlight, Origin: posgate.ReversalOfLateApproval, CreatedAt: t0})
	})
	rev, err := get(t, s, func(tx posgate.Tx) (posgate.Reversal, error) { return tx.ReversalByCommand("cmd-q1") })
	require.NoError(t, err)
	require.Equal(t, posgate.ReversalOfLateApproval, rev.Origin)

	next, err := get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.NextQueuedCommand("T1") })
	require.NoError(t, err)
	require.Equal(t, q1, next, "oldest first")
	_, err = get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.NextQueuedCommand("T2") })
	require.ErrorIs(t, err, posgate.ErrNotFound)

	err = try(t, s, func(tx posgate.Tx) error { _, err := tx.StartCommand("cmd-q1"); return err })
	require.ErrorIs(t, err, posgate.ErrTerminalBusy, "one command in flight per terminal, queued ones included")

	busy.State, busy.Outcome, busy.FinishedAt = posgate.CommandDone, posgate.OutcomeApproved, ptr(t0)
	do(t, s, func(tx posgate.Tx) error { _, err := tx.FinishCommand(busy); return err })
	started, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.StartCommand("cmd-q1") })
	require.NoError(t, err)
	require.True(t, started)
	again, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.StartCommand("cmd-q1") })
	require.NoError(t, err)
	require.False(t, again, "a command starts once")
	inFlight, err := get(t, s, func(tx posgate.Tx) (posgate.Command, error) { return tx.InFlightCommand("T1") })
	require.NoError(t, err)
	require.Equal(t, "cmd-q1", inFlight.ID)
	_, err = get(t, s, func(tx posgate.Tx) (bool, error) { return tx.StartCommand("cmd-missing") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}
