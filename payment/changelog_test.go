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
