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

// RunShared runs the invariants that must hold when two stores (two
// gateway processes) share one database. open returns two stores on one
// new, empty database for one test; RunShared closes them. The racers
// alternate between the two stores.
func RunShared(t *testing.T, open func(t *testing.T) (posgate.Store, posgate.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, stores [2]posgate.Store)
	}{
		{"Reversals", testSharedReversals},
		{"Commands", testSharedCommands},
		{"Finish", testSharedFinish},
		{"Refunds", testSharedRefunds},
		{"Captures", testSharedCaptures},
		{"Decrements", raceDecrements},
		{"ClaimJob", testSharedClaimJob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			t.Cleanup(func() {
				require.NoError(t, a.Close())
				require.NoError(t, b.Close())
			})
			tc.fn(t, [2]posgate.Store{a, b})
		})
	}
}

func testSharedReversals(t *testing.T, stores [2]posgate.Store) {
	mid := seed(t, stores[0])
	insertOrders(t, stores[0], order(mid, "T1", "tr-1"))
	errs := race(40, func(i int) error {
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			return tx.InsertReversal(posgate.Reversal{ID: fmt.Sprintf("rv-%d", i), TradeID: "tr-1", TID: "T1",
				RequestID: fmt.Sprintf("req-%d", i), CommandID: fmt.Sprintf("cmd-%d", i), State: posgate.ReversalInFlight, CreatedAt: t0})
		})
	})
	requireOneWinner(t, errs, posgate.ErrReversalInFlight)
}

func testSharedCommands(t *testing.T, stores [2]posgate.Store) {
	mid := seed(t, stores[0])
	insertOrders(t, stores[0], order(mid, "T1", "tr-1"))
	errs := race(40, func(i int) error {
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			return tx.InsertCommand(command(fmt.Sprintf("cmd-%d", i), "T1", "tr-1", posgate.CommandSale, t0))
		})
	})
	requireOneWinner(t, errs, posgate.ErrTerminalBusy)
}

func testSharedFinish(t *testing.T, stores [2]posgate.Store) {
	mid := seed(t, stores[0])
	insertOrders(t, stores[0], order(mid, "T1", "tr-1"))
	c := command("cmd-1", "T1", "tr-1", posgate.CommandSale, t0)
	do(t, stores[0], func(tx posgate.Tx) error { return tx.InsertCommand(c) })

	errNotApplied := errors.New("not applied")
	errs := race(40, func(i int) error {
		done := c
		done.State, done.Outcome, done.Message, done.FinishedAt = posgate.CommandDone, posgate.OutcomeApproved, fmt.Sprint(i), ptr(t0)
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			ok, err := tx.FinishCommand(done)
			if err == nil && !ok {
				err = errNotApplied
			}
			return err
		})
	})
	requireOneWinner(t, errs, errNotApplied)
	got, err := get(t, stores[1], func(tx posgate.Tx) (posgate.Command, error) { return tx.Command("cmd-1") })
	require.NoError(t, err)
	require.Equal(t, posgate.CommandDone, got.State)
}

// testSharedRefunds refunds as the payment rules do: one transaction
// reads the order, records the refund and its notification, and updates
// the order. A transaction that reads and then writes never sees another's
// write in between (ErrConflict): the store serializes them, or runs the
// loser again on fresh data. The order's CHECK alone refuses the refunds
// that do not fit, and exactly one notification exists per refund made.
func testSharedRefunds(t *testing.T, stores [2]posgate.Store) {
	mid := seed(t, stores[0])
	insertOrders(t, stores[0], order(mid, "T1", "tr-1")) // amount 1000
	const amount, workers = 100, 12                      // 10 fit, 2 do not
	errs := race(workers, func(i int) error {
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			o, err := tx.Order("tr-1")
			if err != nil {
				return err
			}
			id := fmt.Sprintf("rf-%d", i)
			err = tx.InsertRefund(posgate.Refund{RefundID: id, TradeID: o.TradeID, MerchantID: mid, User: "C1",
				Amount: amount, Currency: "EUR", State: posgate.RefundRefunded, CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
			if err := tx.InsertNotification(notification(mid, "nt-"+id)); err != nil {
				return err
			}
			o.RefundedAmount += amount
			o.RefundCount++
			return tx.UpdateOrder(o)
		})
	})

	fits := int(1000 / amount)
	refused := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, posgate.ErrRefundNotAllowed)
			refused++
		}
	}
	require.Equal(t, workers-fits, refused)
	o := readOrder(t, stores[1], "tr-1")
	require.Equal(t, int64(fits*amount), o.RefundedAmount)
	require.Equal(t, fits, o.RefundCount)
	require.Equal(t, int64(fits), o.Version)
	refunds, err := get(t, stores[1], func(tx posgate.Tx) ([]posgate.Refund, error) { return tx.RefundsForOrder("tr-1") })
	require.NoError(t, err)
	require.Len(t, refunds, fits)
	notes, err := get(t, stores[0], func(tx posgate.Tx) ([]posgate.Notification, error) { return tx.Notifications(false, 100) })
	require.NoError(t, err)
	require.Len(t, notes, fits)
}

func testSharedCaptures(t *testing.T, stores [2]posgate.Store) {
	mid := seed(t, stores[0])
	insertOrders(t, stores[0], authorisation(mid, "T1", "tr-1", t0))
	errs := race(40, func(i int) error {
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			return tx.InsertCapture(capture(mid, "tr-1", fmt.Sprintf("cp-%d", i), 100))
		})
	})
	requireOneWinner(t, errs, posgate.ErrAlreadyCaptured)
}

// testSharedClaimJob: of two processes sweeping on the same schedule, one
// runs each turn.
func testSharedClaimJob(t *testing.T, stores [2]posgate.Store) {
	errs := race(20, func(i int) error {
		return stores[i%2].InTx(context.Background(), func(tx posgate.Tx) error {
			ok, err := tx.ClaimJob("sweep", t0, t0.Add(time.Minute))
			if err == nil && !ok {
				err = posgate.ErrConflict
			}
			return err
		})
	})
	requireOneWinner(t, errs, posgate.ErrConflict)
}
