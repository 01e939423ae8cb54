package sqlite

import (
	"strings"

	"github.com/posgate/posgate"
)

func (t *tx) RequestsForTrade(tradeID string) ([]posgate.RequestRecord, error) {
	return list(t, func(r row) (rr posgate.RequestRecord, err error) {
		return rr, r.Scan(&rr.User, &rr.RequestID, &rr.Method, &rr.Fingerprint, &rr.TradeID, timeDest{&rr.CreatedAt})
	}, `SELECT user, request_id, method, fingerprint, trade_id, created_at FROM requests
		WHERE trade_id = ? ORDER BY created_at, rowid`, tradeID)
}

func (t *tx) CommandsForTrade(tradeID string) ([]posgate.Command, error) {
	return list(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE trade_id = ? ORDER BY created_at, rowid`, tradeID)
}

func (t *tx) ReversalsForTrade(tradeID string) ([]posgate.Reversal, error) {
	return list(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE trade_id = ? ORDER BY created_at, rowid`, tradeID)
}

func (t *tx) NotificationsForTrade(tradeID string) ([]posgate.Notification, error) {
	return list(t, scanNotification, `SELECT `+notificationCols+` FROM notifications
		WHERE trade_id = ? ORDER BY created_at, rowid`, tradeID)
}

// Orders names only the filters that are set, so each combination gets
// the plan of its own index; there are few combinations, well within the
// statement cache.
func (t *tx) Orders(f posgate.OrderFilter) ([]posgate.Order, error) {
	var where []string
	var args []any
	for _, c := range []struct {
		set  bool
		cond string
		v    any
	}{
		{f.TID != "", `tid = ?`, f.TID},
		{f.State != "", `state = ?`, f.State},
		{f.OrderID != "", `order_id = ?`, f.OrderID},
		{!f.From.IsZero(), `created_at >= ?`, micros(f.From)},
		{!f.To.IsZero(), `created_at < ?`, micros(f.To)},
	} {
		if c.set {
			where, args = append(where, c.cond), append(args, c.v)
		}
	}
	q := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return list(t, scanOrder, q+` ORDER BY created_at DESC, rowid DESC LIMIT ?`, append(args, f.Limit)...)
}

func (t *tx) RefundsInState(state posgate.RefundState, limit int) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE state = ? ORDER BY created_at, rowid LIMIT ?`, state, limit)
}
