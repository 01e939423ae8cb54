package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// The reads that answer several questions at once, and the writes a
// transaction lets the store hold back (DeferWrites).
var batchedTests = []storeTest{
	{"OrderForReversal", testOrderForReversal},
	{"CommandForResult", testCommandForResult},
	{"DeferredWrites", testDeferredWrites},
	{"DeferredWriteFailures", testDeferredWriteFailures},
}

func testOrderForReversal(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-1")
	insertOrders(t, s, o)
	read := func(tradeID, requestID string) (posgate.ReversalContext, error) {
		return get(t, s, func(tx posgate.Tx) (posgate.ReversalContext, error) {
			return tx.OrderForReversal(tradeID, "C1", requestID)
		})
	}
	rc, err := read("tr-1", "req-1")
	require.NoError(t, err)
	require.Equal(t, posgate.ReversalContext{Order: o, Terminal: terminal(mid, "T1")}, rc)

	rev := posgate.Reversal{ID: "rv-1", TradeID: "tr-1", TID: "T1", RequestID: "req-1", CommandID: "cmd-1",
		State: posgate.ReversalInFlight, CreatedAt: t0}
	req := posgate.RequestRecord{User: "C1", RequestID: "req-1", Method: "v3.POSReversal", Fingerprint: "f", TradeID: "tr-1", CreatedAt: t0}
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertRequest(req); err != nil {
			return err
		}
		return tx.InsertReversal(rev)
	})
	rc, err = read("tr-1", "req-1")
	require.NoError(t, err)
	require.True(t, rc.InFlight, "a reversal in flight")
	require.Equal(t, &req, rc.Request, "the request id was used")
	rc, err = read("tr-1", "req-2")
	require.NoError(t, err)
	require.Nil(t, rc.Request, "another request id")
	rc, err = read("tr-1", "")
	require.NoError(t, err)
	require.Nil(t, rc.Request, "no request id asked for")

	rev.State, rev.FinishedAt = posgate.ReversalDeclined, ptr(t0)
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateReversal(rev) })
	rc, err = read("tr-1", "")
	require.NoError(t, err)
	require.False(t, rc.InFlight, "a declined reversal is not active")

	_, err = read("tr-none", "req-1")
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testCommandForResult(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	sale, other := order(mid, "T1", "tr-1"), order(mid, "T1", "tr-2")
	insertOrders(t, s, sale, other)
	cmd := command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0)
	do(t, s, func(tx posgate.Tx) error { return tx.InsertCommand(cmd) })
	read := func(id string) (posgate.CommandContext, error) {
		return get(t, s, func(tx posgate.Tx) (posgate.CommandContext, error) { return tx.CommandForResult(id) })
	}
	cc, err := read("cmd-1")
	require.NoError(t, err)
	require.Equal(t, posgate.CommandContext{Command: cmd, Order: sale}, cc, "no reversal, nothing queued")

	// A queued reversal of the other order on the same terminal.
	queued := command("cmd-2", "T1", "tr-2", posgate.CommandReversal, t0.Add(time.Second))
	queued.State = posgate.CommandQueued
	rev := posgate.Reversal{ID: "rv-2", TradeID: "tr-2", TID: "T1", CommandID: "cmd-2",
		State: posgate.ReversalInFlight, Origin: posgate.ReversalOfLateApproval, CreatedAt: t0}
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertCommand(queued); err != nil {
			return err
		}
		return tx.InsertReversal(rev)
	})
	cc, err = read("cmd-1")
	require.NoError(t, err)
	require.True(t, cc.Queued, "the terminal has a queued command")
	require.Nil(t, cc.Reversal)
	cc, err = read("cmd-2")
	require.NoError(t, err)
	require.Equal(t, posgate.CommandContext{Command: queued, Order: other, Reversal: &rev, Queued: true}, cc)

	_, err = read("cmd-none")
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

// testDeferredWrites: held-back writes are seen by the transaction's own
// later reads and commit together.
func testDeferredWrites(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-1")
	insertOrders(t, s, o)
	req := posgate.RequestRecord{User: "T1", RequestID: "req-1", Method: "v3.POSReversal", Fingerprint: "f", TradeID: "tr-1", CreatedAt: t0}
	cmd := command("cmd-1", "T1", "tr-1", posgate.CommandReversal, t0)
	do(t, s, func(tx posgate.Tx) error {
		tx.DeferWrites()
		if err := tx.InsertRequest(req); err != nil {
			return err
		}
		if err := tx.InsertCommand(cmd); err != nil {
			return err
		}
		got, err := tx.Command("cmd-1")
		if err != nil {
			return err
		}
		require.Equal(t, cmd, got, "a read sees the writes held before it")
		o.UpdatedAt = t0.Add(time.Second)
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		return tx.InsertEvent(posgate.CommandEvent{CommandID: "cmd-1", Stage: posgate.StageOnScreen, At: t0})
	})
	stored := readOrder(t, s, "tr-1")
	require.Equal(t, o.Version+1, stored.Version, "the held update committed")
	got, err := get(t, s, func(tx posgate.Tx) (posgate.RequestRecord, error) { return tx.Request("T1", "req-1") })
	require.NoError(t, err)
	require.Equal(t, req, got)
	evs, err := get(t, s, func(tx posgate.Tx) ([]posgate.CommandEvent, error) { return tx.Events("cmd-1") })
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

// testDeferredWriteFailures: a held write that fails fails its
// transaction with its own error, at InTx at the latest, and nothing of
// the transaction commits.
func testDeferredWriteFailures(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	o := order(mid, "T1", "tr-1")
	insertOrders(t, s, o)
	active := posgate.Reversal{ID: "rv-1", TradeID: "tr-1", TID: "T1", RequestID: "req-1", CommandID: "cmd-1",
		State: posgate.ReversalInFlight, CreatedAt: t0}
	do(t, s, func(tx posgate.Tx) error { return tx.InsertReversal(active) })

	req := func(id string) posgate.RequestRecord {
		return posgate.RequestRecord{User: "T1", RequestID: id, Method: "v3.POSReversal", Fingerprint: "f", TradeID: "tr-1", CreatedAt: t0}
	}
	requireNoRequest := func(id string) {
		t.Helper()
		_, err := get(t, s, func(tx posgate.Tx) (posgate.RequestRecord, error) { return tx.Request("T1", id) })
		require.ErrorIs(t, err, posgate.ErrNotFound, "nothing of the failed transaction committed")
	}
	stale := o
	stale.Version = o.Version + 5
	for _, tc := range []struct {
		name  string
		write func(tx posgate.Tx) error
		want  error
	}{
		{"constraint", func(tx posgate.Tx) error {
			second := active
			second.ID, second.CommandID = "rv-2", "cmd-2"
			return tx.InsertReversal(second)
		}, posgate.ErrReversalInFlight},
		{"stale version", func(tx posgate.Tx) error { return tx.UpdateOrder(stale) }, posgate.ErrConflict},
		{"missing order", func(tx posgate.Tx) error { return tx.UpdateOrder(order(mid, "T1", "tr-none")) }, posgate.ErrNotFound},
		{"missing reversal", func(tx posgate.Tx) error {
			return tx.UpdateReversal(posgate.Reversal{ID: "rv-none", TradeID: "tr-1", State: posgate.ReversalDeclined, CreatedAt: t0})
		}, posgate.ErrNotFound},
	} {
		id := "req-" + tc.name
		err := try(t, s, func(tx posgate.Tx) error {
			tx.DeferWrites()
			if err := tx.InsertRequest(req(id)); err != nil {
				return err
			}
			// The failing write last, so that it goes with the commit.
			return tc.write(tx)
		})
		require.ErrorIs(t, err, tc.want, tc.name)
		requireNoRequest(id)
	}

	// A failure held before a read is that read's error.
	err := try(t, s, func(tx posgate.Tx) error {
		tx.DeferWrites()
		if err := tx.UpdateOrder(stale); err != nil {
			return err
		}
		_, err := tx.Order("tr-1")
		require.ErrorIs(t, err, posgate.ErrConflict)
		return err
	})
	require.ErrorIs(t, err, posgate.ErrConflict)
	require.Equal(t, o.Version, readOrder(t, s, "tr-1").Version)
}
