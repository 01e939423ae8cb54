package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A transaction's statements reach the server in as few round trips as
// its reads allow: its BEGIN goes with its first statement, and once fn
// has called DeferWrites, the writes that report only an error wait in
// t.held and go, in their order, in one batch with the next statement
// that returns something (a read, or a write whose rows count), or with
// the COMMIT. PostgreSQL runs a batch's statements one after another as
// it would run them alone; once one fails it skips the rest, COMMIT
// included, and the transaction rolls back: an error is reported once,
// for the statement that caused it. A held write must therefore fail in
// the server when it fails at all: the compare-and-set updates that may
// be held raise an error when they change no row (cas_missed) rather than
// report a count for Go to check.
//
// Merging a batch's writes into one statement (each in a WITH clause)
// was measured too: a third fewer statements per reversal, no less CPU on
// the server, so each write stays a statement of its own.

// write is a statement that may be held back until the next round trip.
type write struct {
	stmt string // an INSERT, or an UPDATE ... RETURNING 1 when miss is set
	// miss, when set, is the cas_missed call that fails the statement when
	// the update changed no row.
	miss string
	args []any
}

// query is w as a statement of its own.
func (w write) query() string {
	if w.miss == "" {
		return w.stmt
	}
	return `WITH u AS (` + w.stmt + `) SELECT ` + w.miss + ` WHERE NOT EXISTS (SELECT 1 FROM u)`
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
	b, queued := t.batch()
	b.Queue(query, args...)
	br = t.conn.SendBatch(t.ctx, b)
	if failed, err = results(br, queued); err != nil {
		return nil, failed, errors.Join(err, br.Close())
	}
	return br, "", nil
}

// sent ends query's round trip: it closes the batch send returned, if
// any, and translates err, query's outcome.
func (t *tx) sent(br pgx.BatchResults, err error, query string) error {
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	return t.check(err, query)
}

// batch queues the unsent BEGIN and held writes, which are then no longer
// the transaction's to send, and returns the statements it queued.
func (t *tx) batch() (b *pgx.Batch, queued []string) {
	b = &pgx.Batch{}
	if t.begin != "" {
		b.Queue(t.begin)
		queued = append(queued, t.begin)
	}
	for _, w := range t.held {
		query := w.query()
		b.Queue(query, w.args...)
		queued = append(queued, query)
	}
	t.begin, t.held = "", nil
	return b, queued
}

// results reads the outcomes of the statements batch queued.
func results(br pgx.BatchResults, queued []string) (failed string, err error) {
	for _, q := range queued {
		if _, err := br.Exec(); err != nil {
			return q, err
		}
	}
	return "", nil
}

// flush sends the BEGIN and the held writes that are unsent, in one round
// trip: for a caller that uses the connection itself (River's job
// insert).
func (t *tx) flush() error {
	if t.begin == "" && len(t.held) == 0 {
		return nil
	}
	b, queued := t.batch()
	br := t.conn.SendBatch(t.ctx, b)
	failed, err := results(br, queued)
	if cerr := br.Close(); err == nil && cerr != nil {
		err, failed = cerr, "batch"
	}
	return t.check(err, failed)
}

// commit ends a transaction that began, sending the held writes with the
// COMMIT; one that ran no statement has nothing to commit. A held write
// that fails is reported as its own error (the server skipped the
// COMMIT); a connection that fails is a commitError, since the COMMIT may
// have gone through. PostgreSQL answers COMMIT of a failed transaction
// with ROLLBACK, not an error.
func (t *tx) commit() error {
	if len(t.held) == 0 {
		if t.begin != "" {
			t.begin = ""
			return nil
		}
		return committed(t.conn.Exec(t.ctx, "COMMIT"))
	}
	b, queued := t.batch()
	b.Queue("COMMIT")
	br := t.conn.SendBatch(t.ctx, b)
	if failed, err := results(br, queued); err != nil {
		br.Close()
		if connectionLost(err) {
			return commitError{err}
		}
		if err = t.check(err, failed); t.doomed != nil {
			return t.doomed
		}
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return committed(tag, err)
}

// committed is the outcome of a COMMIT.
func committed(tag pgconn.CommandTag, err error) error {
	switch {
	case connectionLost(err):
		return commitError{err}
	case err != nil:
		return err
	case tag.String() == "ROLLBACK":
		return pgx.ErrTxCommitRollback
	}
	return nil
}
