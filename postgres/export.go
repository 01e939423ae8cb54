package postgres

import (
	"time"

	"github.com/posgate/posgate"
)

func (t *tx) PaidOrdersBetween(merchantID int64, tid string, from, to time.Time, after posgate.ExportCursor, limit int) ([]posgate.Order, error) {
	start, id := from, ""
	if !after.At.IsZero() {
		start, id = after.At, after.ID
	}
	return list(t, scanOrder, `SELECT `+orderCols+` FROM orders
		WHERE merchant_id = $1 AND state = 'paid' AND (paid_at, trade_id) > ($2, $3) AND paid_at >= $4 AND paid_at < $5
		AND ($6 = '' OR tid = $6)
		ORDER BY paid_at, trade_id LIMIT $7`, merchantID, start, id, from, to, tid, limit)
}

func (t *tx) RefundsBetween(merchantID int64, tid string, from, to time.Time, after posgate.ExportCursor, limit int) ([]posgate.Refund, error) {
	start, id := from, ""
	if !after.At.IsZero() {
		start, id = after.At, after.ID
	}
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds
		WHERE merchant_id = $1 AND state = 'refunded' AND (refunded_at, refund_id) > ($2, $3) AND refunded_at >= $4 AND refunded_at < $5
		AND ($6 = '' OR trade_id IN (SELECT trade_id FROM orders WHERE tid = $6))
		ORDER BY refunded_at, refund_id LIMIT $7`, merchantID, start, id, from, to, tid, limit)
}
