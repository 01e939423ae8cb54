package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// captureTests are the store behaviours of captures and scheduled jobs.
var captureTests = []storeTest{
	{"CaptureRoundTrip", testCaptureRoundTrip},
	{"OneCapturePerOrder", testOneCapturePerOrder},
	{"ConcurrentCaptures", testConcurrentCaptures},
	{"StaleAuthorisations", testStaleAuthorisations},
	{"StaleCaptures", testStaleCaptures},
	{"ClaimJob", testClaimJob},
	{"ConcurrentClaimJob", testConcurrentClaimJob},
}

// authorisation is an authorized pre-authorisation on tid, approved at.
func authorisation(mid int64, tid, tradeID string, at time.Time) posgate.Order {
	o := order(mid, tid, tradeID)
	o.Operation, o.State, o.PaidAt = posgate.OpAuthorisation, posgate.StateAuthorized, ptr(at)
	return o
}

func capture(mid int64, tradeID, captureID string, amount int64) posgate.Capture {
	return posgate.Capture{CaptureID: captureID, TradeID: tradeID, MerchantID: mid, User: "C1", RequestID: "req-" + captureID,
		Amount: amount, AuthorisedAmount: 1000, Currency: "EUR", State: posgate.CaptureProcessing, CreatedAt: t0}
}

func activeCapture(t *testing.T, s posgate.Store, tradeID string) (posgate.Capture, error) {
	return get(t, s, func(tx posgate.Tx) (posgate.Capture, error) { return tx.ActiveCapture(tradeID) })
}

func testCaptureRoundTrip(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0))
	_, err := activeCapture(t, s, "tr-1")
	require.ErrorIs(t, err, posgate.ErrNotFound)

	amsterdam := time.FixedZone("CEST", 2*60*60)
	c := posgate.Capture{CaptureID: "cp-1", TradeID: "tr-1", MerchantID: mid, User: "T1", RequestID: "req-1", Amount: 800,
		AuthorisedAmount: 1000, Currency: "EUR", Description: "room 12", NotifyURL: "https://example.com/c",
		State: posgate.CaptureProcessing, CreatedAt: t0.In(amsterdam)}
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(c) })
	got, err := activeCapture(t, s, "tr-1")
	require.NoError(t, err)
	want := c
	want.CreatedAt = t0
	require.Equal(t, want, got, "every field, times in UTC")

	c.State, c.AcquirerRef, c.Message, c.FinishedAt = posgate.CaptureCaptured, "ARN-1", "ok", ptr(t0.Add(time.Second).In(amsterdam))
	done, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCapture(c) })
	require.NoError(t, err)
	require.True(t, done)
	want = c
	want.CreatedAt, want.FinishedAt = t0, ptr(t0.Add(time.Second))
	got, err = activeCapture(t, s, "tr-1")
	require.NoError(t, err)
	require.Equal(t, want, got)

	c.State = posgate.CaptureError
	done, err = get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCapture(c) })
	require.NoError(t, err)
	require.False(t, done, "a capture is finished once")
	got, _ = activeCapture(t, s, "tr-1")
	require.Equal(t, posgate.CaptureCaptured, got.State)

	_, err = get(t, s, func(tx posgate.Tx) (bool, error) { return tx.FinishCapture(capture(mid, "tr-1", "cp-none", 1)) })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	err = try(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(capture(mid, "tr-none", "cp-orphan", 1)) })
	require.ErrorIs(t, err, posgate.ErrNotFound, "unknown order")
}

func testOneCapturePerOrder(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0), authorisation(mid, "T1", "tr-2", t0))
	for _, amount := range []int64{0, -5, 1001} {
		err := try(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(capture(mid, "tr-1", "cp-bad", amount)) })
		require.ErrorIs(t, err, posgate.ErrCaptureNotAllowed, "amount %d is outside (0, authorised]", amount)
	}

	// Failed captures moved nothing: another may follow.
	for i := range 2 {
		failed := capture(mid, "tr-1", fmt.Sprintf("cp-failed-%d", i), 500)
		do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(failed) })
		failed.State, failed.FinishedAt = posgate.CaptureFailed, ptr(t0)
		do(t, s, func(tx posgate.Tx) error { _, err := tx.FinishCapture(failed); return err })
	}
	for _, state := range []posgate.CaptureState{posgate.CaptureCaptured, posgate.CaptureError, posgate.CaptureProcessing} {
		t.Run(string(state), func(t *testing.T) {
			tradeID := "tr-" + string(state)
			insertOrders(t, s, authorisation(mid, "T1", tradeID, t0))
			c := capture(mid, tradeID, "cp-"+string(state), 500)
			do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(c) })
			if state != posgate.CaptureProcessing {
				c.State, c.FinishedAt = state, ptr(t0)
				do(t, s, func(tx posgate.Tx) error { _, err := tx.FinishCapture(c); return err })
			}
			err := try(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(capture(mid, tradeID, "cp-second", 100)) })
			require.ErrorIs(t, err, posgate.ErrAlreadyCaptured, "a %s capture holds the order's one capture", state)
		})
	}
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(capture(mid, "tr-1", "cp-ok", 500)) })
	err := try(t, s, func(tx posgate.Tx) error { return tx.InsertCapture(capture(mid, "tr-2", "cp-ok", 500)) })
	require.ErrorIs(t, err, posgate.ErrAlreadyCaptured, "capture id taken: ids are generated, so a retry of the same capture")
}

func testConcurrentCaptures(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0))
	errs := race(40, func(i int) error {
		return s.InTx(context.Background(), func(tx posgate.Tx) error {
			return tx.InsertCapture(capture(mid, "tr-1", fmt.Sprintf("cp-%d", i), int64(100+i)))
		})
	})
	requireOneWinner(t, errs, posgate.ErrAlreadyCaptured)
}

func testStaleAuthorisations(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	old, older, fresh := authorisation(mid, "T1", "tr-old", t0.Add(-time.Hour)), authorisation(mid, "T2", "tr-older", t0.Add(-2*time.Hour)), authorisation(mid, "T1", "tr-fresh", t0.Add(time.Second))
	captured, failed, sale := authorisation(mid, "T1", "tr-captured", t0.Add(-time.Hour)), authorisation(mid, "T1", "tr-failed", t0.Add(-3*time.Hour)), order(mid, "T1", "tr-sale")
	insertOrders(t, s, old, older, fresh, captured, failed, sale)
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertCapture(capture(mid, "tr-captured", "cp-1", 100)); err != nil {
			return err
		}
		f := capture(mid, "tr-failed", "cp-2", 100)
		if err := tx.InsertCapture(f); err != nil {
			return err
		}
		f.State = posgate.CaptureFailed
		_, err := tx.FinishCapture(f)
		return err
	})
	ids := func(limit int) []string {
		list, err := get(t, s, func(tx posgate.Tx) ([]posgate.Order, error) { return tx.StaleAuthorisations(t0, limit) })
		require.NoError(t, err)
		var out []string
		for _, o := range list {
			out = append(out, o.TradeID)
		}
		return out
	}
	require.Equal(t, []string{"tr-failed", "tr-older", "tr-old"}, ids(10), "oldest first; a capture that is not failed keeps its order")
	require.Equal(t, []string{"tr-failed", "tr-older"}, ids(2))
}

func testClaimJob(t *testing.T, s posgate.Store) {
	claim := func(name string, now time.Time) bool {
		ok, err := get(t, s, func(tx posgate.Tx) (bool, error) { return tx.ClaimJob(name, now, now.Add(time.Minute)) })
		require.NoError(t, err)
		return ok
	}
	require.True(t, claim("sweep", t0), "a job never run is due")
	require.False(t, claim("sweep", t0.Add(59*time.Second)), "not due before next")
	require.True(t, claim("other", t0), "jobs are claimed by name")
	require.True(t, claim("sweep", t0.Add(time.Minute)), "due at next")
	require.False(t, claim("sweep", t0.Add(time.Minute)))
}

func testConcurrentClaimJob(t *testing.T, s posgate.Store) {
	for round := range 3 {
		now := t0.Add(time.Duration(round) * time.Minute)
		errs := race(20, func(i int) error {
			return s.InTx(context.Background(), func(tx posgate.Tx) error {
				ok, err := tx.ClaimJob("sweep", now, now.Add(time.Minute))
				if err == nil && !ok {
					err = posgate.ErrConflict
				}
				return err
			})
		})
		requireOneWinner(t, errs, posgate.ErrConflict)
	}
}

func testStaleCaptures(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, authorisation(mid, "T1", "tr-1", t0), authorisation(mid, "T1", "tr-2", t0), authorisation(mid, "T1", "tr-3", t0))
	old, fresh, done := capture(mid, "tr-1", "cp-old", 500), capture(mid, "tr-2", "cp-fresh", 500), capture(mid, "tr-3", "cp-done", 500)
	fresh.CreatedAt = t0.Add(time.Minute)
	do(t, s, func(tx posgate.Tx) error {
		for _, c := range []posgate.Capture{fresh, done, old} {
			if err := tx.InsertCapture(c); err != nil {
				return err
			}
		}
		done.State, done.FinishedAt = posgate.CaptureCaptured, ptr(t0)
		_, err := tx.FinishCapture(done)
		return err
	})
	ids := func(before time.Time, limit int) []string {
		cs, err := get(t, s, func(tx posgate.Tx) ([]posgate.Capture, error) { return tx.StaleCaptures(before, limit) })
		require.NoError(t, err)
		var out []string
		for _, c := range cs {
			out = append(out, c.CaptureID)
		}
		return out
	}
	require.Equal(t, []string{"cp-old"}, ids(t0, 10), "only captures processing, asked for at or before")
	require.Equal(t, []string{"cp-old", "cp-fresh"}, ids(t0.Add(time.Hour), 10), "oldest first")
	require.Equal(t, []string{"cp-old"}, ids(t0.Add(time.Hour), 1))
}
