package postgres

import (
	"strconv"
	"strings"

	"github.com/posgate/posgate"
)

func (t *tx) RequestsForTrade(tradeID string) ([]posgate.RequestRecord, error) {
	return list(t, func(r row) (rr posgate.RequestRecord, err error) {
		return rr, r.Scan(&rr.User, &rr.RequestID, &rr.Method, &rr.Fingerprint, &rr.TradeID, &rr.CreatedAt)
	}, `SELECT "user", request_id, method, fingerprint, trade_id, created_at FROM requests
		WHERE trade_id = $1 ORDER BY created_at, request_id`, tradeID)
}

func (t *tx) CommandsForTrade(tradeID string) ([]posgate.Command, error) {
	return list(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE trade_id = $1 ORDER BY created_at, seq`, tradeID)
}

func (t *tx) ReversalsForTrade(tradeID string) ([]posgate.Reversal, error) {
	return list(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE trade_id = $1 ORDER BY created_at, id`, tradeID)
}

func (t *tx) NotificationsForTrade(tradeID string) ([]posgate.Notification, error) {
	return list(t, scanNotification, `SELECT `+notificationCols+` FROM notifications
		WHERE trade_id = $1 ORDER BY created_at, seq`, tradeID)
}

// Orders names only the filters that are set, so each combination gets
// the plan of its own index.
func (t *tx) Orders(f posgate.OrderFilter) ([]posgate.Order, error) {
	var where []string
	var args []any
	for _, c := range []struct {
		set  bool
		cond string
		v    any
	}{
		{f.TID != "", `tid = `, f.TID},
		{f.State != "", `state = `, f.State},
		{f.OrderID != "", `order_id = `, f.OrderID},
		{!f.From.IsZero(), `created_at >= `, f.From},
		{!f.To.IsZero(), `created_at < `, f.To},
	} {
		if c.set {
			args = append(args, c.v)
			where = append(where, c.cond+"$"+strconv.Itoa(len(args)))
		}
	}
	q := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, f.Limit)
	return list(t, scanOrder, q+` ORDER BY created_at DESC, trade_id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

func (t *tx) RefundsInState(state posgate.RefundState, limit int) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE state = $1 ORDER BY created_at, seq LIMIT $2`, state, limit)
}
