package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
)

// A transaction's statements reach the server in as few round trips as
// its reads allow: its BEGIN goes with its first statement, and once fn
// has called DeferWrites, the writes that report only an error wait in
// t.held and go, in their order, in one batch with the next statement
// that returns something (a read, or a write whose rows count), or with
// the commit (see run). PostgreSQL runs a batch's statements one after
// another as it would run them alone; one that fails makes the rest fail
// too, and the transaction rolls back, so an error is reported once, for
// the statement that caused it.

// write is a statement held back until the next round trip.
type write struct {
	query string
	args  []any
	// rows checks how many rows the write changed; nil accepts any.
	rows func(n int64) error
}

// sentWrite is a write that went in a batch, with the rows it changed.
type sentWrite struct {
	write
	n int64
}

// DeferWrites implements posgate.Tx.
func (t *tx) DeferWrites() { t.deferring = true }

// send puts query on the connection. When the transaction's BEGIN or held
// writes are unsent, they go first, in one batch with query, and br is
// that batch, its next result query's; the caller reads it there and then
// calls t.sent. Otherwise br is nil and query goes on the connection as
// usual. When err is not nil, failed is the statement it is about.
func (t *tx) send(query string, args []any) (br pgx.BatchResults, failed string, err error) {
	if t.begin == "" && len(t.held) == 0 {
		return nil, "", nil
	}
	b, begin, held := t.batch()
	b.Queue(query, args...)
	br = t.conn.SendBatch(t.ctx, b)
	if failed, err = t.results(br, begin, held); err != nil {
		return nil, failed, errors.Join(err, br.Close())
	}
	return br, "", nil
}

// batch queues the unsent BEGIN and held writes, which are then no longer
// the transaction's to send.
func (t *tx) batch() (b *pgx.Batch, begin string, held []write) {
	b = &pgx.Batch{}
	begin, held = t.begin, t.held
	if begin != "" {
		b.Queue(begin)
	}
	for _, w := range held {
		b.Queue(w.query, w.args...)
	}
	t.begin, t.held = "", nil
	return b, begin, held
}

// results reads the outcomes of the BEGIN and writes batch queued, and
// keeps the writes' changed rows for sent to check.
func (t *tx) results(br pgx.BatchResults, begin string, held []write) (failed string, err error) {
	if begin != "" {
		if _, err := br.Exec(); err != nil {
			return begin, err
		}
	}
	for _, w := range held {
		tag, err := br.Exec()
		if err != nil {
			return w.query, err
		}
		if w.rows != nil {
			t.unchecked = append(t.unchecked, sentWrite{w, tag.RowsAffected()})
		}
	}
	return "", nil
}

// sent ends query's round trip: it closes the batch send returned, if
// any, and checks the rows of the writes that went in it. err is query's
// own outcome; a write's failed check comes first, a missing row
// (ErrNotFound) being an answer rather than a failure.
func (t *tx) sent(br pgx.BatchResults, err error, query string) error {
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.unchecked = nil
		return t.check(err, query)
	}
	if cerr := t.settle(); cerr != nil {
		return cerr
	}
	return t.check(err, query)
}

// settle runs the row checks of the writes that were sent in the last
// batch; a check may itself read.
func (t *tx) settle() error {
	unchecked := t.unchecked
	t.unchecked = nil
	for _, w := range unchecked {
		if err := w.rows(w.n); err != nil {
			return err
		}
	}
	return nil
}

// flush sends the BEGIN and the held writes that are unsent, in one round
// trip, and checks the writes: before the commit, and before a caller
// that uses the connection itself (River's job insert).
func (t *tx) flush() error {
	if len(t.held) == 0 {
		if t.begin == "" {
			return nil
		}
		begin := t.begin
		t.begin = ""
		_, err := t.conn.Exec(t.ctx, begin)
		return t.check(err, begin)
	}
	b, begin, held := t.batch()
	br := t.conn.SendBatch(t.ctx, b)
	failed, err := t.results(br, begin, held)
	if cerr := br.Close(); err == nil {
		err, failed = cerr, begin
	}
	if err != nil {
		t.unchecked = nil
		return t.check(err, failed)
	}
	return t.settle()
}
