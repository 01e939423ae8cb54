package console

import (
	"context"
	"slices"

	"github.com/posgate/posgate"
)

// WatchStore returns s with f told, after each commit, of the orders whose
// history the transaction wrote: the payment service and the notification
// delivery use it, so an order's timeline and the orders list follow
// every request, result, progress batch, refund, notification attempt and
// operator action without polling. Writes by other processes (operator
// commands, other gateways) are not seen; the pages show them on reload.
func (f *Feed) WatchStore(s posgate.Store) posgate.Store { return watchedStore{s, f} }

type watchedStore struct {
	posgate.Store
	feed *Feed
}

func (s watchedStore) InTx(ctx context.Context, fn func(tx posgate.Tx) error) error {
	var touched []string
	err := s.Store.InTx(ctx, func(tx posgate.Tx) error {
		touched = touched[:0]
		return fn(&touchTx{Tx: tx, touched: &touched})
	})
	if err == nil && len(touched) > 0 {
		s.feed.ordersChanged(touched)
	}
	return err
}

// touchTx notes the trade id of each write to an order's history.
type touchTx struct {
	posgate.Tx
	touched *[]string
	trades  map[string]string // command id -> trade id, of the commands read
}

// Command remembers the command's order, for InsertEvent.
func (t *touchTx) Command(id string) (posgate.Command, error) {
	c, err := t.Tx.Command(id)
	if err == nil {
		t.remember(c)
	}
	return c, err
}

// CommandForResult remembers the command's order, as Command does.
func (t *touchTx) CommandForResult(id string) (posgate.CommandContext, error) {
	cc, err := t.Tx.CommandForResult(id)
	if err == nil {
		t.remember(cc.Command)
	}
	return cc, err
}

func (t *touchTx) remember(c posgate.Command) {
	if t.trades == nil {
		t.trades = map[string]string{}
	}
	t.trades[c.ID] = c.TradeID
}

func (t *touchTx) note(err error, tradeID string) error {
	if err == nil && tradeID != "" {
		*t.touched = append(*t.touched, tradeID)
	}
	return err
}

func (t *touchTx) InsertRequest(r posgate.RequestRecord) error {
	return t.note(t.Tx.InsertRequest(r), r.TradeID)
}
func (t *touchTx) InsertOrder(o posgate.Order) error { return t.note(t.Tx.InsertOrder(o), o.TradeID) }
func (t *touchTx) UpdateOrder(o posgate.Order) error { return t.note(t.Tx.UpdateOrder(o), o.TradeID) }
func (t *touchTx) InsertCommand(c posgate.Command) error {
	return t.note(t.Tx.InsertCommand(c), c.TradeID)
}
func (t *touchTx) FinishCommand(c posgate.Command) (bool, error) {
	ok, err := t.Tx.FinishCommand(c)
	return ok, t.note(err, c.TradeID)
}

// InsertEvent names only the events' commands: the orders of those the
// transaction has not read (the result path has) are read in the same
// transaction, in one statement.
func (t *touchTx) InsertEvent(events ...posgate.CommandEvent) error {
	if err := t.Tx.InsertEvent(events...); err != nil {
		return err
	}
	var ids []string
	for _, e := range events {
		if tradeID, ok := t.trades[e.CommandID]; ok {
			t.note(nil, tradeID)
		} else {
			ids = append(ids, e.CommandID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	cmds, err := t.Tx.CommandsByID(slices.Compact(ids))
	for _, c := range cmds {
		t.note(nil, c.TradeID)
	}
	return err
}
func (t *touchTx) InsertReversal(r posgate.Reversal) error {
	return t.note(t.Tx.InsertReversal(r), r.TradeID)
}
func (t *touchTx) UpdateReversal(r posgate.Reversal) error {
	return t.note(t.Tx.UpdateReversal(r), r.TradeID)
}
func (t *touchTx) InsertRefund(r posgate.Refund) error {
	return t.note(t.Tx.InsertRefund(r), r.TradeID)
}
func (t *touchTx) UpdateRefund(r posgate.Refund) error {
	return t.note(t.Tx.UpdateRefund(r), r.TradeID)
}
func (t *touchTx) InsertCapture(c posgate.Capture) error {
	return t.note(t.Tx.InsertCapture(c), c.TradeID)
}
func (t *touchTx) FinishCapture(c posgate.Capture) (bool, error) {
	ok, err := t.Tx.FinishCapture(c)
	return ok, t.note(err, c.TradeID)
}
func (t *touchTx) InsertNotification(n posgate.Notification) error {
	return t.note(t.Tx.InsertNotification(n), n.TradeID)
}
func (t *touchTx) UpdateNotification(n posgate.Notification) error {
	return t.note(t.Tx.UpdateNotification(n), n.TradeID)
}
func (t *touchTx) InsertOperatorAction(a posgate.OperatorAction) error {
	return t.note(t.Tx.InsertOperatorAction(a), a.TradeID)
}
