package payment

import (
	"context"
	"log/slog"

	"github.com/posgate/posgate"
)

// changeLog is the store as the service uses it: every committed change of
// an order's or a refund's state is logged at info with its trade_id, so
// an operator can follow an order in the log. Changes are collected per
// attempt and logged after the commit: the log of a transaction that
// rolled back, or was retried, would tell of things that never happened.
type changeLog struct {
	posgate.Store
	log *slog.Logger
}

// stateChange is one order's or refund's new state.
type stateChange struct {
	refundID, tradeID, tid, user, from, to string
}

func (c changeLog) InTx(ctx context.Context, fn func(tx posgate.Tx) error) error {
	if !c.log.Enabled(ctx, slog.LevelInfo) {
		return c.Store.InTx(ctx, fn)
	}
	var changes []stateChange
	err := c.Store.InTx(ctx, func(tx posgate.Tx) error {
		changes = changes[:0]
		return fn(&changeTx{Tx: tx, changes: &changes})
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.refundID != "" {
			c.log.Info("refund state", "trade_id", ch.tradeID, "refund_id", ch.refundID, "user", ch.user, "from", ch.from, "to", ch.to)
		} else {
			c.log.Info("order state", "trade_id", ch.tradeID, "tid", ch.tid, "from", ch.from, "to", ch.to)
		}
	}
	return nil
}

// changeTx notes the state changes written through it.
type changeTx struct {
	posgate.Tx
	changes *[]stateChange
	// states holds each order's state as this transaction last read or
	// wrote it, so that UpdateOrder need not read it again (on
	// PostgreSQL that read would also cost the held writes' batch a round
	// trip of its own).
	states map[string]posgate.State
}

func (t *changeTx) know(o posgate.Order) {
	if t.states == nil {
		t.states = map[string]posgate.State{}
	}
	t.states[o.TradeID] = o.State
}

func (t *changeTx) Order(tradeID string) (posgate.Order, error) {
	o, err := t.Tx.Order(tradeID)
	if err == nil {
		t.know(o)
	}
	return o, err
}

func (t *changeTx) OrderForReversal(tradeID, user, requestID string) (posgate.ReversalContext, error) {
	rc, err := t.Tx.OrderForReversal(tradeID, user, requestID)
	if err == nil {
		t.know(rc.Order)
	}
	return rc, err
}

func (t *changeTx) CommandForResult(id string) (posgate.CommandContext, error) {
	cc, err := t.Tx.CommandForResult(id)
	if err == nil {
		t.know(cc.Order)
	}
	return cc, err
}

func (t *changeTx) InsertOrder(o posgate.Order) error {
	if err := t.Tx.InsertOrder(o); err != nil {
		return err
	}
	t.know(o)
	*t.changes = append(*t.changes, stateChange{tradeID: o.TradeID, tid: o.TID, to: string(o.State)})
	return nil
}

// UpdateOrder compares with the state the transaction knows, reading it
// when it has not: the write's argument is only the new one.
func (t *changeTx) UpdateOrder(o posgate.Order) error {
	before, known := t.states[o.TradeID]
	if !known {
		stored, err := t.Tx.Order(o.TradeID)
		if err != nil {
			return err
		}
		before = stored.State
	}
	if err := t.Tx.UpdateOrder(o); err != nil {
		return err
	}
	t.know(o)
	if before != o.State {
		*t.changes = append(*t.changes, stateChange{tradeID: o.TradeID, tid: o.TID, from: string(before), to: string(o.State)})
	}
	return nil
}

func (t *changeTx) InsertRefund(r posgate.Refund) error {
	if err := t.Tx.InsertRefund(r); err != nil {
		return err
	}
	*t.changes = append(*t.changes, stateChange{refundID: r.RefundID, tradeID: r.TradeID, user: r.User, to: string(r.State)})
	return nil
}

func (t *changeTx) UpdateRefund(r posgate.Refund) error {
	before, err := t.Tx.Refund(r.RefundID)
	if err != nil {
		return err
	}
	if err := t.Tx.UpdateRefund(r); err != nil {
		return err
	}
	if before.State != r.State {
		*t.changes = append(*t.changes, stateChange{refundID: r.RefundID, tradeID: r.TradeID, user: r.User, from: string(before.State), to: string(r.State)})
	}
	return nil
}
