package sqlite

import (
	"time"

	"github.com/posgate/posgate"
)

func (t *tx) PaidOrdersBetween(merchantID int64, tid string, from, to time.Time, after posgate.ExportCursor, limit int) ([]posgate.Order, error) {
	start, id := micros(from), ""
	if !after.At.IsZero() {
		start, id = micros(after.At), after.ID
	}
	return list(t, scanOrder, `SELECT `+orderCols+` FROM orders
		WHERE merchant_id = ? AND state = 'paid' AND (paid_at, trade_id) > (?, ?) AND paid_at >= ? AND paid_at < ?
		AND (? = '' OR tid = ?)
		ORDER BY paid_at, trade_id LIMIT ?`, merchantID, start, id, micros(from), micros(to), tid, tid, limit)
}

func (t *tx) RefundsBetween(merchantID int64, tid string, from, to time.Time, after posgate.ExportCursor, limit int) ([]posgate.Refund, error) {
	start, id := micros(from), ""
	if !after.At.IsZero() {
		start, id = micros(after.At), after.ID
	}
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds
		WHERE merchant_id = ? AND state = 'refunded' AND (refunded_at, refund_id) > (?, ?) AND refunded_at >= ? AND refunded_at < ?
		AND (? = '' OR trade_id IN (SELECT trade_id FROM orders WHERE tid = ?))
		ORDER BY refunded_at, refund_id LIMIT ?`, merchantID, start, id, micros(from), micros(to), tid, tid, limit)
}
