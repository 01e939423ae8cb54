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

// decrementTests are the store behaviours of pre-authorisation decrements.
var decrementTests = []storeTest{
	{"DecrementRoundTrip", testDecrementRoundTrip},
	{"DecrementBounds", testDecrementBounds},
	{"ConcurrentDecrements", testConcurrentDecrements},
	{"CapturesForTrade", testCapturesForTrade},
	{"StaleDecrements", testStaleDecrements},
}

func testStaleDecrements(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0), authorisation(mid, "T1", "tr-2", t0))
	old, older, fresh, done := decrement(mid, "tr-1", "dc-old", 1000, 100), decrement(mid, "tr-2", "dc-older", 1000, 100),
		decrement(mid, "tr-1", "dc-fresh", 900, 100), decrement(mid, "tr-1", "dc-done", 800, 100)
	old.CreatedAt, older.CreatedAt, fresh.CreatedAt, done.CreatedAt = t0.Add(-time.Minute), t0.Add(-time.Hour), t0.Add(time.Second), t0.Add(-time.Hour)
	for _, d := range []posgate.Decrement{old, older, fresh, done} {
		do(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(d) })
	}
	done.State, done.FinishedAt = posgate.DecrementDecremented, ptr(t0)
	do(t, s, func(tx posgate.Tx) error { _, err := tx.FinishDecrement(done); return err })
	got, err := get(t, s, func(tx posgate.Tx) ([]posgate.Decrement, error) { return tx.StaleDecrements(t0, 10) })
	require.NoError(t, err)
	require.Equal(t, []posgate.Decrement{older, old}, got, "processing ones asked for by then, oldest first")
	got, err = get(t, s, func(tx posgate.Tx) ([]posgate.Decrement, error) { return tx.StaleDecrements(t0, 1) })
	require.NoError(t, err)
	require.Equal(t, []posgate.Decrement{older}, got)
}

func decrement(mid int64, tradeID, id string, before, amount int64) posgate.Decrement {
	return posgate.Decrement{DecrementID: id, TradeID: tradeID, MerchantID: mid, User: "C1", RequestID: "req-" + id,
		Amount: amount, Before: before, After: before - amount, Currency: "EUR", Description: "minibar", NotifyURL: "https://example.com/n",
		State: posgate.DecrementProcessing, CreatedAt: t0}
}

func decrements(t *testing.T, s posgate.Store, tradeID string) []posgate.Decrement {
	t.Helper()
	ds, err := get(t, s, func(tx posgate.Tx) ([]posgate.Decrement, error) { return tx.DecrementsForTrade(tradeID) })
	require.NoError(t, err)
	return ds
}

func testDecrementRoundTrip(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0), authorisation(mid, "T1", "tr-2", t0))
	first, second := decrement(mid, "tr-1", "dc-1", 1000, 300), decrement(mid, "tr-1", "dc-2", 700, 200)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(first) })
	do(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(second) })
	require.Equal(t, []posgate.Decrement{first, second}, decrements(t, s, "tr-1"), "oldest first; equal times in chain order")
	require.Empty(t, decrements(t, s, "tr-2"))

	done := first
	done.State, done.AcquirerRef, done.Message, done.FinishedAt = posgate.DecrementDecremented, "acq-d1", "ok", ptr(t0.Add(time.Minute))
	ok, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishDecrement(done) })
	require.NoError(t, err)
	require.True(t, ok)
	again := done
	again.State = posgate.DecrementFailed
	ok, err = get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishDecrement(again) })
	require.NoError(t, err)
	require.False(t, ok, "an answer applies once")
	require.Equal(t, []posgate.Decrement{done, second}, decrements(t, s, "tr-1"))

	_, err = get(t, s, func(tx posgate.Tx) (bool, error) {
		return tx.FinishDecrement(decrement(mid, "tr-1", "dc-none", 1000, 1))
	})
	require.ErrorIs(t, err, posgate.ErrNotFound)
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(decrement(mid, "tr-2", "dc-1", 1000, 1)) })
	require.ErrorIs(t, err, posgate.ErrDuplicate, "decrement id taken")
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(decrement(mid, "tr-none", "dc-3", 1000, 1)) })
	require.ErrorIs(t, err, posgate.ErrNotFound, "unknown order")
}

// testDecrementBounds: the database keeps every decrement's chain sound
// and its result above zero, whatever the caller computed.
func testDecrementBounds(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0))
	for name, d := range map[string]posgate.Decrement{
		"to zero":                 decrement(mid, "tr-1", "dc-zero", 1000, 1000),
		"below zero":              decrement(mid, "tr-1", "dc-neg", 1000, 1001),
		"no reduction":            decrement(mid, "tr-1", "dc-none", 1000, 0),
		"an increase":             decrement(mid, "tr-1", "dc-up", 1000, -5),
		"after not before-amount": func() posgate.Decrement { d := decrement(mid, "tr-1", "dc-sum", 1000, 100); d.After = 950; return d }(),
	} {
		err := try(t, s, func(tx posgate.Tx) error { return tx.InsertDecrement(d) })
		require.ErrorIs(t, err, posgate.ErrCaptureNotAllowed, name)
	}
	require.Empty(t, decrements(t, s, "tr-1"))
}

// testConcurrentDecrements: goroutines lower one authorisation by 0.99 EUR
// each, as the service does (read, check the rules, insert the decrement,
// compare-and-set the order), retrying lost races until the rules refuse.
// From 10.00 exactly ten fit (the last leaves 0.10, EUR's minimum): the
// rows form one chain from 10.00 down to the order's amount, never below
// the minimum, never zero.
func testConcurrentDecrements(t *testing.T, s posgate.Store) {
	raceDecrements(t, [2]posgate.Store{s, s})
}

// raceDecrements runs the decrement race, the racers alternating between
// the two stores (one, or two processes sharing a database).
func raceDecrements(t *testing.T, stores [2]posgate.Store) {
	s := stores[0]
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0))
	const reduction = 99
	errs := race(16, func(i int) error {
		for n := 0; ; n++ {
			err := stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
				o, err := tx.Order("tr-1")
				if err != nil {
					return err
				}
				if err := posgate.CheckDecrement(o, reduction, "EUR", "", t0); err != nil {
					return err
				}
				if err := tx.InsertDecrement(decrement(mid, "tr-1", fmt.Sprintf("dc-%d-%d", i, n), o.Amount, reduction)); err != nil {
					return err
				}
				o.Amount -= reduction
				return tx.UpdateOrder(o)
			})
			var refused *posgate.RuleError
			switch {
			case errors.As(err, &refused):
				return nil // nothing left to take
			case err != nil && !errors.Is(err, posgate.ErrConflict):
				return err
			}
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	o := readOrder(t, s, "tr-1")
	require.Equal(t, int64(10), o.Amount, "down to EUR's minimum, not below")
	ds := decrements(t, s, "tr-1")
	require.Len(t, ds, 10)
	at := int64(1000)
	for _, d := range ds {
		require.Equal(t, at, d.Before, "one chain: each decrement starts where the last ended")
		require.Equal(t, d.Before-reduction, d.After)
		require.GreaterOrEqual(t, d.After, int64(10))
		at = d.After
	}
	require.Equal(t, o.Amount, at)
}

func testCapturesForTrade(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0))
	failed := capture(mid, "tr-1", "cp-1", 500)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(failed) })
	failed.State, failed.FinishedAt = posgate.CaptureFailed, ptr(t0)
	do(t, s, func(tx posgate.Tx) error { _, err := tx.FinishCapture(failed); return err })
	ok := capture(mid, "tr-1", "cp-2", 400)
	ok.CreatedAt = t0.Add(time.Second)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(ok) })
	got, err := get(t, s, func(tx posgate.Tx) ([]posgate.Capture, error) { return tx.CapturesForTrade("tr-1") })
	require.NoError(t, err)
	require.Equal(t, []posgate.Capture{failed, ok}, got, "failed ones included, oldest first")
}
