package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/posgate/posgate"
)

// tx implements posgate.Tx. State literals in the SQL below match the
// posgate constants and the schema's partial indexes, which the planner
// can use only when the query names the same states.
type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	store *Store
	wrote bool // a statement that may change rows ran
	// scheduled are the notifications whose delivery this transaction
	// asked for, handed to the dispatcher once it commits.
	scheduled []Scheduled
}

// row is a *sql.Row or *sql.Rows.
type row interface{ Scan(dest ...any) error }

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	t.wrote = true
	res, err := t.tx.ExecContext(t.ctx, query, args...)
	return res, interpretError(err, query)
}

// update runs an UPDATE and reports whether it changed a row.
func (t *tx) update(query string, args ...any) (bool, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// exists reports whether a row of table has the key.
func (t *tx) exists(table, key string, v any) (bool, error) {
	var ok bool
	err := t.tx.QueryRowContext(t.ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE `+key+` = ?)`, v).Scan(&ok)
	return ok, err
}

// casMissed explains a compare-and-set update that changed no row: the row
// does not exist (ErrNotFound), or another transaction updated it first
// (ErrConflict).
func (t *tx) casMissed(table, key string, v any) error {
	found, err := t.exists(table, key, v)
	switch {
	case err != nil:
		return err
	case !found:
		return posgate.ErrNotFound
	}
	return posgate.ErrConflict
}

func one[T any](t *tx, scan func(row) (T, error), query string, args ...any) (T, error) {
	v, err := scan(t.tx.QueryRowContext(t.ctx, query, args...))
	return v, interpretError(err, query)
}

func list[T any](t *tx, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, interpretError(err, query)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func placeholders(n int) string { return "?" + strings.Repeat(", ?", n-1) }

const merchantCols = `id, name, created_at`

func scanMerchant(r row) (m posgate.Merchant, err error) {
	return m, r.Scan(&m.ID, &m.Name, timeDest{&m.CreatedAt})
}

func (t *tx) EnsureMerchant(name string, now time.Time) (posgate.Merchant, error) {
	if _, err := t.exec(`INSERT INTO merchants (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, micros(now)); err != nil {
		return posgate.Merchant{}, err
	}
	return one(t, scanMerchant, `SELECT `+merchantCols+` FROM merchants WHERE name = ?`, name)
}

func (t *tx) Merchant(id int64) (posgate.Merchant, error) {
	return one(t, scanMerchant, `SELECT `+merchantCols+` FROM merchants WHERE id = ?`, id)
}

func (t *tx) insertPrincipal(user string, kind posgate.PrincipalKind, merchantID int64, sealedSecret []byte, created time.Time) error {
	_, err := t.exec(`INSERT INTO principals (user, kind, merchant_id, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)`,
		user, kind, merchantID, sealedSecret, micros(created))
	return err
}

func (t *tx) InsertTerminal(term posgate.Terminal, sealedSecret []byte) error {
	if err := t.insertPrincipal(term.TID, posgate.KindTerminal, term.MerchantID, sealedSecret, term.CreatedAt); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO terminals (`+terminalCols+`) VALUES (`+placeholders(6)+`)`,
		term.TID, term.MerchantID, term.Timezone, term.Currency, term.CutoffMinutes, micros(term.CreatedAt))
	return err
}

func (t *tx) InsertCashier(c posgate.Cashier, sealedSecret []byte) error {
	if err := t.insertPrincipal(c.UID, posgate.KindCashier, c.MerchantID, sealedSecret, c.CreatedAt); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO cashiers (`+cashierCols+`) VALUES (?, ?, ?, ?)`, c.UID, c.MerchantID, c.RefundAuthority, micros(c.CreatedAt))
	return err
}

func (t *tx) Principal(user string) (posgate.Principal, error) {
	return one(t, func(r row) (p posgate.Principal, err error) {
		return p, r.Scan(&p.User, &p.Kind, &p.MerchantID, &p.SealedSecret, timeDest{&p.CreatedAt})
	}, `SELECT user, kind, merchant_id, sealed_secret, created_at FROM principals WHERE user = ?`, user)
}

const terminalCols = `tid, merchant_id, timezone, currency, cutoff_minutes, created_at`

func scanTerminal(r row) (term posgate.Terminal, err error) {
	return term, r.Scan(&term.TID, &term.MerchantID, &term.Timezone, &term.Currency, &term.CutoffMinutes, timeDest{&term.CreatedAt})
}

func (t *tx) Terminal(tid string) (posgate.Terminal, error) {
	return one(t, scanTerminal, `SELECT `+terminalCols+` FROM terminals WHERE tid = ?`, tid)
}

func (t *tx) Terminals() ([]posgate.Terminal, error) {
	return list(t, scanTerminal, `SELECT `+terminalCols+` FROM terminals ORDER BY tid`)
}

const cashierCols = `uid, merchant_id, refund_authority, created_at`

func (t *tx) Cashiers() ([]posgate.Cashier, error) {
	return list(t, func(r row) (c posgate.Cashier, err error) {
		return c, r.Scan(&c.UID, &c.MerchantID, &c.RefundAuthority, timeDest{&c.CreatedAt})
	}, `SELECT `+cashierCols+` FROM cashiers ORDER BY uid`)
}

func (t *tx) Request(user, requestID string) (posgate.RequestRecord, error) {
	return one(t, func(r row) (rr posgate.RequestRecord, err error) {
		return rr, r.Scan(&rr.User, &rr.RequestID, &rr.Method, &rr.Fingerprint, &rr.TradeID, timeDest{&rr.CreatedAt})
	}, `SELECT user, request_id, method, fingerprint, trade_id, created_at FROM requests WHERE user = ? AND request_id = ?`, user, requestID)
}

func (t *tx) InsertRequest(r posgate.RequestRecord) error {
	_, err := t.exec(`INSERT INTO requests (user, request_id, method, fingerprint, trade_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.User, r.RequestID, r.Method, r.Fingerprint, r.TradeID, micros(r.CreatedAt))
	return err
}

// orderCols starts with the key; the rest is what UpdateOrder writes.
const orderCols = `trade_id, merchant_id, tid, user, order_id, operation, amount, tip_amount, currency,
	description, demo, notify_url, pay_method, sub_pay_method, state, transaction_id, refunded_amount,
	refund_count, created_at, updated_at, paid_at, business_date, cleared_at, expires_at, reconciliation,
	card_brand, card_masked_pan, card_entry_mode, card_auth_code, card_aid, version`

func orderArgs(o posgate.Order) []any {
	return []any{o.TradeID, o.MerchantID, o.TID, o.User, o.OrderID, o.Operation, o.Amount, o.TipAmount, o.Currency,
		o.Description, o.Demo, o.NotifyURL, o.PayMethod, o.SubPayMethod, o.State, o.TransactionID, o.RefundedAmount,
		o.RefundCount, micros(o.CreatedAt), micros(o.UpdatedAt), nullMicros(o.PaidAt), o.BusinessDate, nullMicros(o.ClearedAt), micros(o.ExpiresAt), o.Reconciliation,
		o.Receipt.CardBrand, o.Receipt.MaskedPAN, o.Receipt.EntryMode, o.Receipt.AuthCode, o.Receipt.AID, o.Version}
}

func scanOrder(r row) (o posgate.Order, err error) {
	return o, r.Scan(&o.TradeID, &o.MerchantID, &o.TID, &o.User, &o.OrderID, &o.Operation, &o.Amount, &o.TipAmount, &o.Currency,
		&o.Description, &o.Demo, &o.NotifyURL, &o.PayMethod, &o.SubPayMethod, &o.State, &o.TransactionID, &o.RefundedAmount,
		&o.RefundCount, timeDest{&o.CreatedAt}, timeDest{&o.UpdatedAt}, nullTimeDest{&o.PaidAt}, &o.BusinessDate, nullTimeDest{&o.ClearedAt}, timeDest{&o.ExpiresAt}, &o.Reconciliation,
		&o.Receipt.CardBrand, &o.Receipt.MaskedPAN, &o.Receipt.EntryMode, &o.Receipt.AuthCode, &o.Receipt.AID, &o.Version)
}

func (t *tx) Order(tradeID string) (posgate.Order, error) {
	return one(t, scanOrder, `SELECT `+orderCols+` FROM orders WHERE trade_id = ?`, tradeID)
}

func (t *tx) InsertOrder(o posgate.Order) error {
	_, err := t.exec(`INSERT INTO orders (`+orderCols+`) VALUES (`+placeholders(31)+`)`, orderArgs(o)...)
	return err
}

func (t *tx) UpdateOrder(o posgate.Order) error {
	args := append(orderArgs(o)[1:30:30], o.TradeID, o.Version)
	changed, err := t.update(`UPDATE orders SET merchant_id = ?, tid = ?, user = ?, order_id = ?, operation = ?, amount = ?,
		tip_amount = ?, currency = ?, description = ?, demo = ?, notify_url = ?, pay_method = ?, sub_pay_method = ?,
		state = ?, transaction_id = ?, refunded_amount = ?, refund_count = ?, created_at = ?, updated_at = ?,
		paid_at = ?, business_date = ?, cleared_at = ?, expires_at = ?, reconciliation = ?,
		card_brand = ?, card_masked_pan = ?, card_entry_mode = ?, card_auth_code = ?, card_aid = ?, version = version + 1
		WHERE trade_id = ? AND version = ?`, args...)
	if err != nil || changed {
		return err
	}
	return t.casMissed("orders", "trade_id", o.TradeID)
}

func (t *tx) ExpiredOrders(now time.Time, limit int) ([]posgate.Order, error) {
	return list(t, scanOrder, `SELECT `+orderCols+` FROM orders
		WHERE state IN ('pending', 'processing') AND expires_at <= ?
		ORDER BY expires_at, trade_id LIMIT ?`, micros(now), limit)
}

// ClearOrders bumps the version of the orders it clears: an UpdateOrder
// holding the order from before would otherwise write cleared_at back to
// NULL.
func (t *tx) ClearOrders(tid, through string, now time.Time) (int, error) {
	res, err := t.exec(`UPDATE orders SET cleared_at = ?, version = version + 1
		WHERE tid = ? AND business_date <= ? AND state IN ('paid', 'authorized') AND cleared_at IS NULL`,
		micros(now), tid, through)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const reversalCols = `id, trade_id, tid, request_id, command_id, state, origin, reason, created_at, finished_at`

func scanReversal(r row) (rev posgate.Reversal, err error) {
	return rev, r.Scan(&rev.ID, &rev.TradeID, &rev.TID, &rev.RequestID, &rev.CommandID, &rev.State, &rev.Origin, &rev.Reason,
		timeDest{&rev.CreatedAt}, nullTimeDest{&rev.FinishedAt})
}

// InsertReversal reports a taken reversal id as ErrReversalInFlight too:
// ids are generated, so that can only be a retry of the same reversal.
func (t *tx) InsertReversal(r posgate.Reversal) error {
	_, err := t.exec(`INSERT INTO reversals (`+reversalCols+`) VALUES (`+placeholders(10)+`)`,
		r.ID, r.TradeID, r.TID, r.RequestID, r.CommandID, r.State, r.Origin, r.Reason, micros(r.CreatedAt), nullMicros(r.FinishedAt))
	return err
}

func (t *tx) UpdateReversal(r posgate.Reversal) error {
	changed, err := t.update(`UPDATE reversals SET trade_id = ?, tid = ?, request_id = ?, command_id = ?,
		state = ?, reason = ?, created_at = ?, finished_at = ? WHERE id = ?`,
		r.TradeID, r.TID, r.RequestID, r.CommandID, r.State, r.Reason, micros(r.CreatedAt), nullMicros(r.FinishedAt), r.ID)
	if err == nil && !changed {
		return posgate.ErrNotFound
	}
	return err
}

func (t *tx) ActiveReversal(tradeID string) (posgate.Reversal, error) {
	return one(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE trade_id = ? AND state IN ('in_flight', 'approved')`, tradeID)
}

func (t *tx) ReversalByCommand(commandID string) (posgate.Reversal, error) {
	return one(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE command_id = ?`, commandID)
}

const commandCols = `id, tid, kind, trade_id, state, created_at, outcome, transaction_id, message, finished_at,
	card_brand, card_masked_pan, card_entry_mode, card_auth_code, card_aid`

func scanCommand(r row) (c posgate.Command, err error) {
	return c, r.Scan(&c.ID, &c.TID, &c.Kind, &c.TradeID, &c.State, timeDest{&c.CreatedAt}, &c.Outcome, &c.TransactionID,
		&c.Message, nullTimeDest{&c.FinishedAt},
		&c.Receipt.CardBrand, &c.Receipt.MaskedPAN, &c.Receipt.EntryMode, &c.Receipt.AuthCode, &c.Receipt.AID)
}

// InsertCommand reports a taken command id as ErrTerminalBusy too, for the
// reason InsertReversal gives.
func (t *tx) InsertCommand(c posgate.Command) error {
	_, err := t.exec(`INSERT INTO commands (`+commandCols+`) VALUES (`+placeholders(15)+`)`,
		c.ID, c.TID, c.Kind, c.TradeID, c.State, micros(c.CreatedAt), c.Outcome, c.TransactionID, c.Message, nullMicros(c.FinishedAt),
		c.Receipt.CardBrand, c.Receipt.MaskedPAN, c.Receipt.EntryMode, c.Receipt.AuthCode, c.Receipt.AID)
	return err
}

func (t *tx) Command(id string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE id = ?`, id)
}

func (t *tx) CommandsByID(ids []string) ([]posgate.Command, error) {
	var out []posgate.Command
	for _, id := range ids {
		c, err := t.Command(id)
		if errors.Is(err, posgate.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (t *tx) InFlightCommand(tid string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE tid = ? AND state = 'in_flight'`, tid)
}

func (t *tx) CommandForTrade(tradeID string, kind posgate.CommandKind) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE trade_id = ? AND kind = ?
		ORDER BY created_at DESC, rowid DESC LIMIT 1`, tradeID, kind)
}

func (t *tx) FinishCommand(c posgate.Command) (bool, error) {
	changed, err := t.update(`UPDATE commands SET state = ?, outcome = ?, transaction_id = ?, message = ?, finished_at = ?,
		card_brand = ?, card_masked_pan = ?, card_entry_mode = ?, card_auth_code = ?, card_aid = ?
		WHERE id = ? AND state = 'in_flight'`, c.State, c.Outcome, c.TransactionID, c.Message, nullMicros(c.FinishedAt),
		c.Receipt.CardBrand, c.Receipt.MaskedPAN, c.Receipt.EntryMode, c.Receipt.AuthCode, c.Receipt.AID, c.ID)
	if err != nil || changed {
		return changed, err
	}
	found, err := t.exists("commands", "id", c.ID)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

func (t *tx) NextQueuedCommand(tid string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE tid = ? AND state = 'queued'
		ORDER BY created_at, rowid LIMIT 1`, tid)
}

func (t *tx) StartCommand(id string) (bool, error) {
	changed, err := t.update(`UPDATE commands SET state = 'in_flight' WHERE id = ? AND state = 'queued'`, id)
	if err != nil || changed {
		return changed, err
	}
	found, err := t.exists("commands", "id", id)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

// InsertEvent inserts the events one by one: a statement costs no round
// trip here.
func (t *tx) InsertEvent(events ...posgate.CommandEvent) error {
	for _, e := range events {
		_, err := t.exec(`INSERT INTO command_events (command_id, stage, message, at) VALUES (?, ?, ?, ?)`,
			e.CommandID, e.Stage, e.Message, micros(e.At))
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) Events(commandID string) ([]posgate.CommandEvent, error) {
	return list(t, func(r row) (e posgate.CommandEvent, err error) {
		return e, r.Scan(&e.CommandID, &e.Stage, &e.Message, timeDest{&e.At})
	}, `SELECT command_id, stage, message, at FROM command_events WHERE command_id = ? ORDER BY at, id`, commandID)
}

func (t *tx) UseNonce(tid, nonce string, expires time.Time, now time.Time) error {
	if _, err := t.exec(`DELETE FROM terminal_nonces WHERE tid = ? AND expires_at <= ?`, tid, micros(now)); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO terminal_nonces (tid, nonce, expires_at) VALUES (?, ?, ?)`, tid, nonce, micros(expires))
	return err
}

// DeferWrites does nothing: SQLite's statements cost no round trip, so
// every write runs at its call.
func (t *tx) DeferWrites() {}

// OrderForReversal is four reads, each as cheap as a join's part here.
func (t *tx) OrderForReversal(tradeID, user, requestID string) (posgate.ReversalContext, error) {
	var rc posgate.ReversalContext
	var err error
	if rc.Order, err = t.Order(tradeID); err != nil {
		return rc, err
	}
	if rc.Terminal, err = t.Terminal(rc.Order.TID); err != nil {
		return rc, err
	}
	_, err = t.ActiveReversal(tradeID)
	switch {
	case err == nil:
		rc.InFlight = true
	case !errors.Is(err, posgate.ErrNotFound):
		return rc, err
	}
	if requestID == "" {
		return rc, nil
	}
	req, err := t.Request(user, requestID)
	switch {
	case err == nil:
		rc.Request = &req
	case !errors.Is(err, posgate.ErrNotFound):
		return rc, err
	}
	return rc, nil
}

// CommandForResult is four reads, as OrderForReversal.
func (t *tx) CommandForResult(id string) (posgate.CommandContext, error) {
	var cc posgate.CommandContext
	var err error
	if cc.Command, err = t.Command(id); err != nil {
		return cc, err
	}
	if cc.Order, err = t.Order(cc.Command.TradeID); err != nil {
		return cc, err
	}
	rev, err := t.ReversalByCommand(id)
	switch {
	case err == nil:
		cc.Reversal = &rev
	case !errors.Is(err, posgate.ErrNotFound):
		return cc, err
	}
	_, err = t.NextQueuedCommand(cc.Command.TID)
	switch {
	case err == nil:
		cc.Queued = true
	case !errors.Is(err, posgate.ErrNotFound):
		return cc, err
	}
	return cc, nil
}
