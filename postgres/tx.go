package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/internal/sqlstmt"
)

// tx implements posgate.Tx. State literals in the SQL below match the
// posgate constants and the schema's partial indexes, which the planner
// can use only when the query names the same states.
type tx struct {
	ctx  context.Context
	conn *pgx.Conn
	// begin is the transaction's BEGIN until it is sent, in one round trip
	// with the first statement; then empty.
	begin string
	store *Store
	// doomed is the first serialization failure or deadlock a statement
	// hit: the transaction can no longer commit, whatever fn makes of it.
	doomed error
	// deferring is set by DeferWrites: writes are then held back, in
	// their order, until the next round trip (see pipeline.go).
	deferring bool
	held      []write
}

// row is a pgx.Row or pgx.Rows.
type row interface{ Scan(dest ...any) error }

// check records a failure that voids the transaction and translates err,
// the outcome of query.
func (t *tx) check(err error, query string) error {
	if err = markLost(err); t.doomed == nil && retryable(err) {
		t.doomed = err
	}
	if err == nil {
		return nil
	}
	return interpretError(err, sqlstmt.Describe(query))
}

// rollback ends a transaction that began and did not commit. A failure
// leaves the connection inside the transaction, and the pool's Release
// then closes it instead of reusing it.
func (t *tx) rollback() {
	if t.begin == "" && t.conn.PgConn().TxStatus() != 'I' {
		t.conn.Exec(t.ctx, "ROLLBACK")
	}
}

// exec runs a write now and reports how many rows it changed.
func (t *tx) exec(query string, args ...any) (int64, error) {
	br, failed, err := t.send(query, args)
	if err != nil {
		return 0, t.check(err, failed)
	}
	var tag pgconn.CommandTag
	if br != nil {
		tag, err = br.Exec()
	} else {
		tag, err = t.conn.Exec(t.ctx, query, args...)
	}
	if err = t.sent(br, err, query); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// insert runs stmt, an INSERT, or holds it back when the transaction
// defers writes.
func (t *tx) insert(stmt string, args ...any) error {
	return t.write(write{stmt: stmt, args: args})
}

// update runs stmt, an UPDATE ending in RETURNING 1, as a
// compare-and-set: when it changes no row, miss (a cas_missed call) fails
// it in the server, so that it may be held back like an insert.
func (t *tx) update(stmt, miss string, args ...any) error {
	return t.write(write{stmt: stmt, miss: miss, args: args})
}

// write runs w, or holds it back when the transaction defers writes.
func (t *tx) write(w write) error {
	if t.deferring {
		t.held = append(t.held, w)
		return nil
	}
	_, err := t.exec(w.query(), w.args...)
	return err
}

// exists reports whether a row of table has the key.
func (t *tx) exists(table, key string, v any) (bool, error) {
	return one(t, func(r row) (ok bool, err error) { return ok, r.Scan(&ok) },
		`SELECT EXISTS (SELECT 1 FROM `+table+` WHERE `+key+` = $1)`, v)
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
	var zero T
	br, failed, err := t.send(query, args)
	if err != nil {
		return zero, t.check(err, failed)
	}
	var r pgx.Row
	if br != nil {
		r = br.QueryRow()
	} else {
		r = t.conn.QueryRow(t.ctx, query, args...)
	}
	v, err := scan(r)
	if err = t.sent(br, err, query); err != nil {
		return zero, err
	}
	return v, nil
}

func list[T any](t *tx, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	br, failed, err := t.send(query, args)
	if err != nil {
		return nil, t.check(err, failed)
	}
	var rows pgx.Rows
	if br != nil {
		rows, err = br.Query()
	} else {
		rows, err = t.conn.Query(t.ctx, query, args...)
	}
	if err != nil {
		return nil, t.sent(br, err, query)
	}
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, t.sent(br, err, query)
		}
		out = append(out, v)
	}
	rows.Close()
	if err := t.sent(br, rows.Err(), query); err != nil {
		return nil, err
	}
	return out, nil
}

// placeholders is "$1, $2, ... $n".
func placeholders(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i))
	}
	return b.String()
}

const merchantCols = `id, name, created_at`

func scanMerchant(r row) (m posgate.Merchant, err error) {
	return m, r.Scan(&m.ID, &m.Name, &m.CreatedAt)
}

func (t *tx) EnsureMerchant(name string, now time.Time) (posgate.Merchant, error) {
	if _, err := t.exec(`INSERT INTO merchants (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, now); err != nil {
		return posgate.Merchant{}, err
	}
	return one(t, scanMerchant, `SELECT `+merchantCols+` FROM merchants WHERE name = $1`, name)
}

func (t *tx) Merchant(id int64) (posgate.Merchant, error) {
	return one(t, scanMerchant, `SELECT `+merchantCols+` FROM merchants WHERE id = $1`, id)
}

func (t *tx) insertPrincipal(user string, kind posgate.PrincipalKind, merchantID int64, sealedSecret []byte, created time.Time) error {
	_, err := t.exec(`INSERT INTO principals ("user", kind, merchant_id, sealed_secret, created_at) VALUES ($1, $2, $3, $4, $5)`,
		user, kind, merchantID, sealedSecret, created)
	return err
}

func (t *tx) InsertTerminal(term posgate.Terminal, sealedSecret []byte) error {
	if err := t.insertPrincipal(term.TID, posgate.KindTerminal, term.MerchantID, sealedSecret, term.CreatedAt); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO terminals (`+terminalCols+`) VALUES (`+placeholders(6)+`)`,
		term.TID, term.MerchantID, term.Timezone, term.Currency, term.CutoffMinutes, term.CreatedAt)
	return err
}

func (t *tx) InsertCashier(c posgate.Cashier, sealedSecret []byte) error {
	if err := t.insertPrincipal(c.UID, posgate.KindCashier, c.MerchantID, sealedSecret, c.CreatedAt); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO cashiers (`+cashierCols+`) VALUES ($1, $2, $3, $4)`, c.UID, c.MerchantID, c.RefundAuthority, c.CreatedAt)
	return err
}

func (t *tx) Principal(user string) (posgate.Principal, error) {
	return one(t, func(r row) (p posgate.Principal, err error) {
		return p, r.Scan(&p.User, &p.Kind, &p.MerchantID, &p.SealedSecret, &p.CreatedAt)
	}, `SELECT "user", kind, merchant_id, sealed_secret, created_at FROM principals WHERE "user" = $1`, user)
}

const terminalCols = `tid, merchant_id, timezone, currency, cutoff_minutes, created_at`

func scanTerminal(r row) (term posgate.Terminal, err error) {
	return term, r.Scan(terminalDest(&term)...)
}

// terminalDest is where terminalCols scan to.
func terminalDest(term *posgate.Terminal) []any {
	return []any{&term.TID, &term.MerchantID, &term.Timezone, &term.Currency, &term.CutoffMinutes, &term.CreatedAt}
}

func (t *tx) Terminal(tid string) (posgate.Terminal, error) {
	return one(t, scanTerminal, `SELECT `+terminalCols+` FROM terminals WHERE tid = $1`, tid)
}

func (t *tx) Terminals() ([]posgate.Terminal, error) {
	return list(t, scanTerminal, `SELECT `+terminalCols+` FROM terminals ORDER BY tid`)
}

const cashierCols = `uid, merchant_id, refund_authority, created_at`

func (t *tx) Cashiers() ([]posgate.Cashier, error) {
	return list(t, func(r row) (c posgate.Cashier, err error) {
		return c, r.Scan(&c.UID, &c.MerchantID, &c.RefundAuthority, &c.CreatedAt)
	}, `SELECT `+cashierCols+` FROM cashiers ORDER BY uid`)
}

const requestCols = `"user", request_id, method, fingerprint, trade_id, created_at`

func (t *tx) Request(user, requestID string) (posgate.RequestRecord, error) {
	return one(t, func(r row) (rr posgate.RequestRecord, err error) {
		return rr, r.Scan(&rr.User, &rr.RequestID, &rr.Method, &rr.Fingerprint, &rr.TradeID, &rr.CreatedAt)
	}, `SELECT `+requestCols+` FROM requests WHERE "user" = $1 AND request_id = $2`, user, requestID)
}

func (t *tx) InsertRequest(r posgate.RequestRecord) error {
	return t.insert(`INSERT INTO requests ("user", request_id, method, fingerprint, trade_id, created_at) VALUES (`+placeholders(6)+`)`,
		r.User, r.RequestID, r.Method, r.Fingerprint, r.TradeID, r.CreatedAt)
}

// orderCols starts with the key; the rest is what UpdateOrder writes.
const orderCols = `trade_id, merchant_id, tid, "user", order_id, operation, amount, tip_amount, currency,
	description, demo, notify_url, pay_method, sub_pay_method, state, transaction_id, refunded_amount,
	refund_count, created_at, updated_at, paid_at, business_date, cleared_at, expires_at, reconciliation,
	card_brand, card_masked_pan, card_entry_mode, card_auth_code, card_aid, version`

func orderArgs(o posgate.Order) []any {
	return []any{o.TradeID, o.MerchantID, o.TID, o.User, o.OrderID, o.Operation, o.Amount, o.TipAmount, o.Currency,
		o.Description, o.Demo, o.NotifyURL, o.PayMethod, o.SubPayMethod, o.State, o.TransactionID, o.RefundedAmount,
		o.RefundCount, o.CreatedAt, o.UpdatedAt, o.PaidAt, o.BusinessDate, o.ClearedAt, o.ExpiresAt, o.Reconciliation,
		o.Receipt.CardBrand, o.Receipt.MaskedPAN, o.Receipt.EntryMode, o.Receipt.AuthCode, o.Receipt.AID, o.Version}
}

func scanOrder(r row) (o posgate.Order, err error) { return o, r.Scan(orderDest(&o)...) }

// orderDest is where orderCols scan to.
func orderDest(o *posgate.Order) []any {
	return []any{&o.TradeID, &o.MerchantID, &o.TID, &o.User, &o.OrderID, &o.Operation, &o.Amount, &o.TipAmount, &o.Currency,
		&o.Description, &o.Demo, &o.NotifyURL, &o.PayMethod, &o.SubPayMethod, &o.State, &o.TransactionID, &o.RefundedAmount,
		&o.RefundCount, &o.CreatedAt, &o.UpdatedAt, &o.PaidAt, &o.BusinessDate, &o.ClearedAt, &o.ExpiresAt, &o.Reconciliation,
		&o.Receipt.CardBrand, &o.Receipt.MaskedPAN, &o.Receipt.EntryMode, &o.Receipt.AuthCode, &o.Receipt.AID, &o.Version}
}

func (t *tx) Order(tradeID string) (posgate.Order, error) {
	return one(t, scanOrder, `SELECT `+orderCols+` FROM orders WHERE trade_id = $1`, tradeID)
}

func (t *tx) InsertOrder(o posgate.Order) error {
	return t.insert(`INSERT INTO orders (`+orderCols+`) VALUES (`+placeholders(31)+`)`, orderArgs(o)...)
}

func (t *tx) UpdateOrder(o posgate.Order) error {
	// $1 is the key, $31 the version compared.
	return t.update(updateOrder, `cas_missed(CASE WHEN EXISTS (SELECT 1 FROM orders WHERE trade_id = $1)
		THEN 'orders_version' ELSE 'orders_missing' END)`, orderArgs(o)...)
}

const updateOrder = `UPDATE orders SET merchant_id = $2, tid = $3, "user" = $4, order_id = $5, operation = $6, amount = $7,
		tip_amount = $8, currency = $9, description = $10, demo = $11, notify_url = $12, pay_method = $13, sub_pay_method = $14,
		state = $15, transaction_id = $16, refunded_amount = $17, refund_count = $18, created_at = $19, updated_at = $20,
		paid_at = $21, business_date = $22, cleared_at = $23, expires_at = $24, reconciliation = $25,
		card_brand = $26, card_masked_pan = $27, card_entry_mode = $28, card_auth_code = $29, card_aid = $30, version = version + 1
		WHERE trade_id = $1 AND version = $31 RETURNING 1`

func (t *tx) ExpiredOrders(now time.Time, limit int) ([]posgate.Order, error) {
	return list(t, scanOrder, `SELECT `+orderCols+` FROM orders
		WHERE state IN ('pending', 'processing') AND expires_at <= $1
		ORDER BY expires_at, trade_id LIMIT $2`, now, limit)
}

// ClearOrders bumps the version of the orders it clears: an UpdateOrder
// holding the order from before would otherwise write cleared_at back to
// NULL.
func (t *tx) ClearOrders(tid, through string, now time.Time) (int, error) {
	n, err := t.exec(`UPDATE orders SET cleared_at = $1, version = version + 1
		WHERE tid = $2 AND business_date <= $3 AND state IN ('paid', 'authorized') AND cleared_at IS NULL`,
		now, tid, through)
	return int(n), err
}

const reversalCols = `id, trade_id, tid, request_id, command_id, state, origin, reason, created_at, finished_at`

func scanReversal(r row) (rev posgate.Reversal, err error) {
	return rev, r.Scan(&rev.ID, &rev.TradeID, &rev.TID, &rev.RequestID, &rev.CommandID, &rev.State, &rev.Origin, &rev.Reason,
		&rev.CreatedAt, &rev.FinishedAt)
}

// InsertReversal reports a taken reversal id as ErrReversalInFlight too:
// ids are generated, so that can only be a retry of the same reversal.
func (t *tx) InsertReversal(r posgate.Reversal) error {
	return t.insert(`INSERT INTO reversals (`+reversalCols+`) VALUES (`+placeholders(10)+`)`,
		r.ID, r.TradeID, r.TID, r.RequestID, r.CommandID, r.State, r.Origin, r.Reason, r.CreatedAt, r.FinishedAt)
}

func (t *tx) UpdateReversal(r posgate.Reversal) error {
	return t.update(`UPDATE reversals SET trade_id = $1, tid = $2, request_id = $3, command_id = $4,
		state = $5, reason = $6, created_at = $7, finished_at = $8 WHERE id = $9 RETURNING 1`, `cas_missed('reversals_missing')`,
		r.TradeID, r.TID, r.RequestID, r.CommandID, r.State, r.Reason, r.CreatedAt, r.FinishedAt, r.ID)
}

func (t *tx) ActiveReversal(tradeID string) (posgate.Reversal, error) {
	return one(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE trade_id = $1 AND state IN ('in_flight', 'approved')`, tradeID)
}

func (t *tx) ReversalByCommand(commandID string) (posgate.Reversal, error) {
	return one(t, scanReversal, `SELECT `+reversalCols+` FROM reversals WHERE command_id = $1`, commandID)
}

// OrderForReversal reads the order, its terminal, whether it has an
// active reversal and the request asked for in one statement.
func (t *tx) OrderForReversal(tradeID, user, requestID string) (posgate.ReversalContext, error) {
	return one(t, func(r row) (rc posgate.ReversalContext, err error) {
		var req nullRequest
		dest := append(orderDest(&rc.Order), terminalDest(&rc.Terminal)...)
		dest = append(append(dest, &rc.InFlight), req.dest()...)
		if err := r.Scan(dest...); err != nil {
			return rc, err
		}
		rc.Request = req.request()
		return rc, nil
	}, orderForReversalQuery, tradeID, user, requestID)
}

// nullRequest scans the request columns of an outer join.
type nullRequest struct {
	user, requestID, method, fingerprint, tradeID *string
	createdAt                                     *time.Time
}

func (n *nullRequest) dest() []any {
	return []any{&n.user, &n.requestID, &n.method, &n.fingerprint, &n.tradeID, &n.createdAt}
}

func (n *nullRequest) request() *posgate.RequestRecord {
	if n.user == nil {
		return nil
	}
	return &posgate.RequestRecord{User: *n.user, RequestID: *n.requestID, Method: *n.method, Fingerprint: *n.fingerprint,
		TradeID: *n.tradeID, CreatedAt: *n.createdAt}
}

// CommandForResult reads the command, its order, its reversal and
// whether its terminal has a queued command in one statement.
func (t *tx) CommandForResult(id string) (posgate.CommandContext, error) {
	return one(t, func(r row) (cc posgate.CommandContext, err error) {
		var rv nullReversal
		dest := append(commandDest(&cc.Command), orderDest(&cc.Order)...)
		dest = append(append(dest, rv.dest()...), &cc.Queued)
		if err := r.Scan(dest...); err != nil {
			return cc, err
		}
		cc.Reversal = rv.reversal()
		return cc, nil
	}, commandForResultQuery, id)
}

// The joined reads, built once.
var (
	orderForReversalQuery = `SELECT ` + qualify("o", orderCols) + `, ` + qualify("t", terminalCols) + `,
		EXISTS (SELECT 1 FROM reversals v WHERE v.trade_id = o.trade_id AND v.state IN ('in_flight', 'approved')),
		` + qualify("r", requestCols) + `
		FROM orders o JOIN LATERAL (SELECT * FROM terminals WHERE tid = o.tid LIMIT 1) t ON true
		LEFT JOIN requests r ON r."user" = $2 AND r.request_id = $3 AND $3 <> ''
		WHERE o.trade_id = $1`
	commandForResultQuery = `SELECT ` + qualify("c", commandCols) + `, ` + qualify("o", orderCols) + `, ` + qualify("r", reversalCols) + `,
		EXISTS (SELECT 1 FROM commands q WHERE q.tid = c.tid AND q.state = 'queued')
		FROM commands c JOIN orders o ON o.trade_id = c.trade_id
		LEFT JOIN LATERAL (SELECT * FROM reversals WHERE command_id = c.id LIMIT 1) r ON true
		WHERE c.id = $1`
)

// qualify prefixes each of the comma-separated cols with alias.
func qualify(alias, cols string) string {
	fields := strings.Split(cols, ",")
	for i, f := range fields {
		fields[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// nullReversal scans the reversal columns of an outer join.
type nullReversal struct {
	id, tradeID, tid, requestID, commandID, state, origin, reason *string
	createdAt, finishedAt                                         *time.Time
}

func (n *nullReversal) dest() []any {
	return []any{&n.id, &n.tradeID, &n.tid, &n.requestID, &n.commandID, &n.state, &n.origin, &n.reason, &n.createdAt, &n.finishedAt}
}

func (n *nullReversal) reversal() *posgate.Reversal {
	if n.id == nil {
		return nil
	}
	return &posgate.Reversal{ID: *n.id, TradeID: *n.tradeID, TID: *n.tid, RequestID: *n.requestID, CommandID: *n.commandID,
		State: posgate.ReversalState(*n.state), Origin: posgate.ReversalOrigin(*n.origin), Reason: *n.reason,
		CreatedAt: *n.createdAt, FinishedAt: n.finishedAt}
}

const commandCols = `id, tid, kind, trade_id, state, created_at, outcome, transaction_id, message, finished_at,
	card_brand, card_masked_pan, card_entry_mode, card_auth_code, card_aid`

func scanCommand(r row) (c posgate.Command, err error) { return c, r.Scan(commandDest(&c)...) }

// commandDest is where commandCols scan to.
func commandDest(c *posgate.Command) []any {
	return []any{&c.ID, &c.TID, &c.Kind, &c.TradeID, &c.State, &c.CreatedAt, &c.Outcome, &c.TransactionID,
		&c.Message, &c.FinishedAt,
		&c.Receipt.CardBrand, &c.Receipt.MaskedPAN, &c.Receipt.EntryMode, &c.Receipt.AuthCode, &c.Receipt.AID}
}

// InsertCommand reports a taken command id as ErrTerminalBusy too, for the
// reason InsertReversal gives.
func (t *tx) InsertCommand(c posgate.Command) error {
	return t.insert(`INSERT INTO commands (`+commandCols+`) VALUES (`+placeholders(15)+`)`,
		c.ID, c.TID, c.Kind, c.TradeID, c.State, c.CreatedAt, c.Outcome, c.TransactionID, c.Message, c.FinishedAt,
		c.Receipt.CardBrand, c.Receipt.MaskedPAN, c.Receipt.EntryMode, c.Receipt.AuthCode, c.Receipt.AID)
}

func (t *tx) Command(id string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE id = $1`, id)
}

func (t *tx) CommandsByID(ids []string) ([]posgate.Command, error) {
	return list(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE id = ANY($1::text[])`, ids)
}

func (t *tx) InFlightCommand(tid string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE tid = $1 AND state = 'in_flight'`, tid)
}

func (t *tx) CommandForTrade(tradeID string, kind posgate.CommandKind) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE trade_id = $1 AND kind = $2
		ORDER BY created_at DESC, seq DESC LIMIT 1`, tradeID, kind)
}

const finishCommand = `UPDATE commands SET state = $1, outcome = $2, transaction_id = $3, message = $4, finished_at = $5,
		card_brand = $6, card_masked_pan = $7, card_entry_mode = $8, card_auth_code = $9, card_aid = $10
		WHERE id = $11 AND state = 'in_flight'`

// FinishCommand, when the transaction defers writes, is held back like
// them and reports true: a command that was not in flight then fails the
// transaction (cas_missed, ErrConflict), as posgate.Tx's DeferWrites
// says.
func (t *tx) FinishCommand(c posgate.Command) (bool, error) {
	args := []any{c.State, c.Outcome, c.TransactionID, c.Message, c.FinishedAt,
		c.Receipt.CardBrand, c.Receipt.MaskedPAN, c.Receipt.EntryMode, c.Receipt.AuthCode, c.Receipt.AID, c.ID}
	if t.deferring {
		return true, t.update(finishCommand+` RETURNING 1`, `cas_missed('commands_in_flight')`, args...)
	}
	n, err := t.exec(finishCommand, args...)
	if err != nil || n > 0 {
		return n > 0, err
	}
	found, err := t.exists("commands", "id", c.ID)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

func (t *tx) NextQueuedCommand(tid string) (posgate.Command, error) {
	return one(t, scanCommand, `SELECT `+commandCols+` FROM commands WHERE tid = $1 AND state = 'queued'
		ORDER BY created_at, seq LIMIT 1`, tid)
}

func (t *tx) StartCommand(id string) (bool, error) {
	n, err := t.exec(`UPDATE commands SET state = 'in_flight' WHERE id = $1 AND state = 'queued'`, id)
	if err != nil || n > 0 {
		return n > 0, err
	}
	found, err := t.exists("commands", "id", id)
	if err == nil && !found {
		err = posgate.ErrNotFound
	}
	return false, err
}

// InsertEvent inserts all the events in one statement, numbered in their
// order.
func (t *tx) InsertEvent(events ...posgate.CommandEvent) error {
	if len(events) == 0 {
		return nil
	}
	if len(events) == 1 {
		// The result's one event: a plain insert plans and runs in less
		// than the unnest below.
		e := events[0]
		return t.insert(`INSERT INTO command_events (command_id, stage, message, at) VALUES ($1, $2, $3, $4)`,
			e.CommandID, e.Stage, e.Message, e.At)
	}
	cmds, stages, msgs, ats := make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]time.Time, len(events))
	for i, e := range events {
		cmds[i], stages[i], msgs[i], ats[i] = e.CommandID, string(e.Stage), e.Message, e.At
	}
	return t.insert(`INSERT INTO command_events (command_id, stage, message, at)
		SELECT c, s, m, a FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS e (c, s, m, a, n)
		ORDER BY n`, cmds, stages, msgs, ats)
}

func (t *tx) Events(commandID string) ([]posgate.CommandEvent, error) {
	return list(t, func(r row) (e posgate.CommandEvent, err error) {
		return e, r.Scan(&e.CommandID, &e.Stage, &e.Message, &e.At)
	}, `SELECT command_id, stage, message, at FROM command_events WHERE command_id = $1 ORDER BY at, id`, commandID)
}

func (t *tx) UseNonce(tid, nonce string, expires time.Time, now time.Time) error {
	if _, err := t.exec(`DELETE FROM terminal_nonces WHERE tid = $1 AND expires_at <= $2`, tid, now); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO terminal_nonces (tid, nonce, expires_at) VALUES ($1, $2, $3)`, tid, nonce, expires)
	return err
}
