package sqlite

import (
	"time"

	"github.com/posgate/posgate"
)

// refundCols starts with the key; the rest is what UpdateRefund writes,
// version last.
const refundCols = `refund_id, trade_id, merchant_id, user, m_refund_id, amount, currency, description,
	notify_url, request_id, state, acquirer_ref, message, created_at, updated_at, refunded_at, version`

func refundArgs(r posgate.Refund) []any {
	return []any{r.RefundID, r.TradeID, r.MerchantID, r.User, r.MRefundID, r.Amount, r.Currency, r.Description,
		r.NotifyURL, r.RequestID, r.State, r.AcquirerRef, r.Message, micros(r.CreatedAt), micros(r.UpdatedAt),
		nullMicros(r.RefundedAt), r.Version}
}

func scanRefund(s row) (r posgate.Refund, err error) {
	return r, s.Scan(&r.RefundID, &r.TradeID, &r.MerchantID, &r.User, &r.MRefundID, &r.Amount, &r.Currency, &r.Description,
		&r.NotifyURL, &r.RequestID, &r.State, &r.AcquirerRef, &r.Message, timeDest{&r.CreatedAt}, timeDest{&r.UpdatedAt},
		nullTimeDest{&r.RefundedAt}, &r.Version)
}

func (t *tx) InsertRefund(r posgate.Refund) error {
	_, err := t.exec(`INSERT INTO refunds (`+refundCols+`) VALUES (`+placeholders(17)+`)`, refundArgs(r)...)
	return err
}

func (t *tx) Refund(refundID string) (posgate.Refund, error) {
	return one(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE refund_id = ?`, refundID)
}

func (t *tx) UpdateRefund(r posgate.Refund) error {
	args := append(refundArgs(r)[1:16:16], r.RefundID, r.Version)
	changed, err := t.update(`UPDATE refunds SET trade_id = ?, merchant_id = ?, user = ?, m_refund_id = ?,
		amount = ?, currency = ?, description = ?, notify_url = ?, request_id = ?, state = ?, acquirer_ref = ?,
		message = ?, created_at = ?, updated_at = ?, refunded_at = ?, version = version + 1
		WHERE refund_id = ? AND version = ?`, args...)
	if err != nil || changed {
		return err
	}
	return t.casMissed("refunds", "refund_id", r.RefundID)
}

// RefundsForOrder breaks ties of equal creation times by insertion order.
func (t *tx) RefundsForOrder(tradeID string) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE trade_id = ? ORDER BY created_at, rowid`, tradeID)
}

func (t *tx) StaleRefunds(state posgate.RefundState, before time.Time, limit int) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE state = ? AND updated_at <= ?
		ORDER BY updated_at, rowid LIMIT ?`, state, micros(before), limit)
}

func (t *tx) RefundByMerchantRef(merchantID int64, mRefundID string) (posgate.Refund, error) {
	if mRefundID == "" {
		return posgate.Refund{}, posgate.ErrNotFound
	}
	return one(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = ? AND m_refund_id = ?`, merchantID, mRefundID)
}
