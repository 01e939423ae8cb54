package payment

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCommittedStateChangesLoggedWithTheirTradeID(t *testing.T) {
	var logs syncBuffer
	f := setup(t, Config{DisplayWait: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := t.Context()
	d, errc := f.startSale(t, "12.50")
	<-errc
	require.NoError(t, f.svc.Result(ctx, "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	trade := d.Order.TradeID
	require.Contains(t, logs.String(), `level=INFO msg="order state" trade_id=`+trade+` tid=T1 from="" to=processing`)
	require.Contains(t, logs.String(), `level=INFO msg="order state" trade_id=`+trade+` tid=T1 from=processing to=paid`)

	// A change that rolls back is not told.
	rollback := errors.New("rolled back")
	require.ErrorIs(t, f.svc.store.InTx(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(trade)
		if err != nil {
			return err
		}
		o.State = posgate.StateCancelled
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		return rollback
	}), rollback)
	require.NotContains(t, logs.String(), "to=cancelled")
	require.Equal(t, posgate.StatePaid, f.order(t, trade).State)

	// A refund's changes carry the order's trade_id and the refund_id.
	r := posgate.Refund{RefundID: newID(), TradeID: trade, MerchantID: d.Order.MerchantID, User: "C1", Amount: 500, Currency: "EUR",
		RequestID: "rq", State: posgate.RefundProcessing, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	require.NoError(t, f.svc.store.InTx(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(trade)
		if err != nil {
			return err
		}
		o.RefundedAmount, o.RefundCount = 500, 1
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		return tx.InsertRefund(r)
	}))
	require.Contains(t, logs.String(), `level=INFO msg="refund state" trade_id=`+trade+` refund_id=`+r.RefundID+` user=C1 from="" to="refund processing"`)
	require.Equal(t, 2, bytes.Count([]byte(logs.String()), []byte(`msg="order state"`)), "an update that keeps the state is not a change:\n%s", logs.String())
}

// The reversal's changes are told from the states its transactions read
// with their rules (OrderForReversal, CommandForResult), not read again.
func TestReversalStateChangesLogged(t *testing.T) {
	var logs syncBuffer
	f := setup(t, Config{DisplayWait: time.Millisecond, ReversalWait: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	d, errc := f.startSale(t, "12.50")
	<-errc
	require.NoError(t, f.svc.Result(t.Context(), "T1", posgate.Result{CommandID: d.Command.ID, Outcome: posgate.OutcomeApproved, TransactionID: "tx-1"}))
	done := make(chan error, 1)
	go func() {
		_, err := f.svc.Reverse(t.Context(), f.till, d.Order.TradeID, "rev-1", "fp-1")
		done <- err
	}()
	rev := <-f.link.commands
	require.NoError(t, f.svc.Result(t.Context(), "T1", posgate.Result{CommandID: rev.Command.ID, Outcome: posgate.OutcomeApproved}))
	require.NoError(t, <-done)
	trade := d.Order.TradeID
	require.Contains(t, logs.String(), `level=INFO msg="order state" trade_id=`+trade+` tid=T1 from=paid to=cancelled`)
	require.Equal(t, 3, bytes.Count([]byte(logs.String()), []byte(`msg="order state"`)), "the request's version bump is not a change:\n%s", logs.String())
}
