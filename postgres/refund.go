package postgres

import (
	"time"

	"github.com/posgate/posgate"
)

// refundCols starts with the key; the rest is what UpdateRefund writes.
const refundCols = `refund_id, trade_id, merchant_id, "user", m_refund_id, amount, currency, description, notify_url,
	request_id, state, acquirer_ref, message, created_at, updated_at, refunded_at, version`

func refundArgs(r posgate.Refund) []any {
	return []any{r.RefundID, r.TradeID, r.MerchantID, r.User, r.MRefundID, r.Amount, r.Currency, r.Description, r.NotifyURL,
		r.RequestID, r.State, r.AcquirerRef, r.Message, r.CreatedAt, r.UpdatedAt, r.RefundedAt, r.Version}
}

func scanRefund(rw row) (r posgate.Refund, err error) {
	return r, rw.Scan(&r.RefundID, &r.TradeID, &r.MerchantID, &r.User, &r.MRefundID, &r.Amount, &r.Currency, &r.Description, &r.NotifyURL,
		&r.RequestID, &r.State, &r.AcquirerRef, &r.Message, &r.CreatedAt, &r.UpdatedAt, &r.RefundedAt, &r.Version)
}

// InsertRefund reports a taken refund id as ErrDuplicate too: ids are
// generated, so that can only be a retry of the same refund.
func (t *tx) InsertRefund(r posgate.Refund) error {
	_, err := t.exec(`INSERT INTO refunds (`+refundCols+`) VALUES (`+placeholders(17)+`)`, refundArgs(r)...)
	return err
}

func (t *tx) Refund(refundID string) (posgate.Refund, error) {
	return one(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE refund_id = $1`, refundID)
}

func (t *tx) UpdateRefund(r posgate.Refund) error {
	// $1 is the key, $17 the version compared.
	n, err := t.exec(`UPDATE refunds SET trade_id = $2, merchant_id = $3, "user" = $4, m_refund_id = $5,
		amount = $6, currency = $7, description = $8, notify_url = $9, request_id = $10, state = $11, acquirer_ref = $12,
		message = $13, created_at = $14, updated_at = $15, refunded_at = $16, version = version + 1
		WHERE refund_id = $1 AND version = $17`, refundArgs(r)...)
	if err != nil || n > 0 {
		return err
	}
	return t.casMissed("refunds", "refund_id", r.RefundID)
}

func (t *tx) RefundsForOrder(tradeID string) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE trade_id = $1 ORDER BY created_at, seq`, tradeID)
}

func (t *tx) StaleRefunds(state posgate.RefundState, before time.Time, limit int) ([]posgate.Refund, error) {
	return list(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE state = $1 AND updated_at <= $2
		ORDER BY updated_at, seq LIMIT $3`, state, before, limit)
}

func (t *tx) RefundByMerchantRef(merchantID int64, mRefundID string) (posgate.Refund, error) {
	if mRefundID == "" {
		return posgate.Refund{}, posgate.ErrNotFound
	}
	return one(t, scanRefund, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND m_refund_id = $2`, merchantID, mRefundID)
}
