package postgres

import (
	"time"

	"github.com/posgate/posgate"
)

const captureCols = `capture_id, trade_id, merchant_id, "user", request_id, amount, authorised_amount, currency,
	description, notify_url, state, acquirer_ref, message, created_at, finished_at`

func scanCapture(r row) (c posgate.Capture, err error) {
	return c, r.Scan(&c.CaptureID, &c.TradeID, &c.MerchantID, &c.User, &c.RequestID, &c.Amount, &c.AuthorisedAmount, &c.Currency,
		&c.Description, &c.NotifyURL, &c.State, &c.AcquirerRef, &c.Message, &c.CreatedAt, &c.FinishedAt)
}

func (t *tx) InsertCapture(c posgate.Capture) error {
	_, err := t.exec(`INSERT INTO captures (`+captureCols+`) VALUES (`+placeholders(15)+`)`,
		c.CaptureID, c.TradeID, c.MerchantID, c.User, c.RequestID, c.Amount, c.AuthorisedAmount, c.Currency,
		c.Description, c.NotifyURL, c.State, c.AcquirerRef, c.Message, c.CreatedAt, c.FinishedAt)
	return err
}

func (t *tx) FinishCapture(c posgate.Capture) (bool, error) {
	n, err := t.exec(`UPDATE captures SET state = $1, acquirer_ref = $2, message = $3, finished_at = $4
		WHERE capture_id = $5 AND state = 'processing'`, c.State, c.AcquirerRef, c.Message, c.FinishedAt, c.CaptureID)
	if err != nil || n > 0 {
		return n > 0, err
	}
	found, err := t.exists("captures", "capture_id", c.CaptureID)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

func (t *tx) ActiveCapture(tradeID string) (posgate.Capture, error) {
	return one(t, scanCapture, `SELECT `+captureCols+` FROM captures
		WHERE trade_id = $1 AND state IN ('processing', 'captured', 'error')`, tradeID)
}

func (t *tx) StaleCaptures(before time.Time, limit int) ([]posgate.Capture, error) {
	return list(t, scanCapture, `SELECT `+captureCols+` FROM captures WHERE state = 'processing' AND created_at <= $1
		ORDER BY created_at, capture_id LIMIT $2`, before, limit)
}

func (t *tx) StaleAuthorisations(approvedBefore time.Time, limit int) ([]posgate.Order, error) {
	return list(t, scanOrder, `SELECT `+orderCols+` FROM orders o
		WHERE state = 'authorized' AND paid_at <= $1
		AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.trade_id = o.trade_id AND c.state IN ('processing', 'captured', 'error'))
		ORDER BY paid_at, trade_id LIMIT $2`, approvedBefore, limit)
}

func (t *tx) ClaimJob(name string, now, next time.Time) (bool, error) {
	n, err := t.exec(`INSERT INTO jobs (name, next_run) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET next_run = excluded.next_run WHERE jobs.next_run <= $3`,
		name, next, now)
	return n > 0, err
}

func (t *tx) CapturesForTrade(tradeID string) ([]posgate.Capture, error) {
	return list(t, scanCapture, `SELECT `+captureCols+` FROM captures WHERE trade_id = $1 ORDER BY created_at, capture_id`, tradeID)
}

const decrementCols = `decrement_id, trade_id, merchant_id, "user", request_id, amount, before_amount, after_amount, currency,
	description, notify_url, state, acquirer_ref, message, created_at, finished_at`

func scanDecrement(r row) (d posgate.Decrement, err error) {
	return d, r.Scan(&d.DecrementID, &d.TradeID, &d.MerchantID, &d.User, &d.RequestID, &d.Amount, &d.Before, &d.After, &d.Currency,
		&d.Description, &d.NotifyURL, &d.State, &d.AcquirerRef, &d.Message, &d.CreatedAt, &d.FinishedAt)
}

func (t *tx) InsertDecrement(d posgate.Decrement) error {
	_, err := t.exec(`INSERT INTO decrements (`+decrementCols+`) VALUES (`+placeholders(16)+`)`,
		d.DecrementID, d.TradeID, d.MerchantID, d.User, d.RequestID, d.Amount, d.Before, d.After, d.Currency,
		d.Description, d.NotifyURL, d.State, d.AcquirerRef, d.Message, d.CreatedAt, d.FinishedAt)
	return err
}

func (t *tx) FinishDecrement(d posgate.Decrement) (bool, error) {
	n, err := t.exec(`UPDATE decrements SET state = $1, acquirer_ref = $2, message = $3, finished_at = $4
		WHERE decrement_id = $5 AND state = 'processing'`, d.State, d.AcquirerRef, d.Message, d.FinishedAt, d.DecrementID)
	if err != nil || n > 0 {
		return n > 0, err
	}
	found, err := t.exists("decrements", "decrement_id", d.DecrementID)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

// DecrementsForTrade: decrements of equal times follow their chain, the
// authorised amount only going down.
func (t *tx) DecrementsForTrade(tradeID string) ([]posgate.Decrement, error) {
	return list(t, scanDecrement, `SELECT `+decrementCols+` FROM decrements WHERE trade_id = $1
		ORDER BY created_at, before_amount DESC, decrement_id`, tradeID)
}

func (t *tx) StaleDecrements(before time.Time, limit int) ([]posgate.Decrement, error) {
	return list(t, scanDecrement, `SELECT `+decrementCols+` FROM decrements WHERE state = 'processing' AND created_at <= $1
		ORDER BY created_at, decrement_id LIMIT $2`, before, limit)
}
