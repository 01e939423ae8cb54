// Package sqlite is the embedded posgate.Store, on SQLite through
// modernc.org/sqlite (no cgo).
//
// The database holds money, so it runs in WAL mode with synchronous=FULL
// (a committed transaction survives a power cut) and foreign keys on, and
// its invariants are constraints in the schema rather than checks in Go.
//
// The Store has exactly one writer connection: SQLite admits one writer
// anyway, and a second one waits out its busy timeout. One goroutine owns it and runs
// every InTx, grouping the calls that wait into one transaction with a
// savepoint each (group commit): each call is still all-or-nothing and
// runs alone, but many share one fsync. Consequently the fn passed to InTx
// must not call InTx, nor use DB: it would wait for itself, for ever.
//
// Times are stored as INTEGER Unix microseconds and read back in UTC, the
// precision of PostgreSQL's timestamptz, so both stores round-trip the
// same values.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/internal/sqlstmt"
)

// maxAttempts bounds InTx's retries on a locked database. Each attempt has
// already waited out the busy timeout, so a few are plenty.
const maxAttempts = 3

//go:embed migration/*.sql
var migrations embed.FS

// Store is the SQLite posgate.Store.
type Store struct {
	db      *sql.DB
	readers *sql.DB // read-only connections for Read
	// commits counts durable commits (an fsync each with
	// synchronous=FULL); txs counts the InTx calls they carried.
	commits, txs atomic.Uint64
	committer
	dispatch Dispatch // nil: opened without an outbox
}

var _ posgate.Store = (*Store)(nil)

// Open opens (creating if need be) the database file at path, applies the
// pending migrations and builds the notifications' dispatch with outbox. A
// store opened with a nil outbox refuses to store notifications.
func Open(ctx context.Context, path string, outbox Outbox) (*Store, error) {
	// The driver reads everything after the first '?' as options.
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("sqlite: path %q must not contain '?'", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	// Pragmas go in the DSN so that a connection the pool replaces gets
	// them too; busy_timeout comes first as the others may need the lock.
	// temp_store(MEMORY) keeps the savepoint journal of group commit in
	// memory: it only undoes a savepoint inside an open transaction, and
	// as a temporary file it cost a write per changed page (7% of the
	// gateway's CPU under the reversal benchmark).
	q := url.Values{
		"_txlock": {"immediate"},
		"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"},
	}
	db := sql.OpenDB(connector{dsn: path + "?" + q.Encode(), drv: &msqlite.Driver{}})
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Readers: WAL lets them read the last commit while the writer works.
	rq := url.Values{
		"_txlock": {"deferred"},
		"_pragma": {"busy_timeout(5000)", "query_only(ON)"},
	}
	readers := sql.OpenDB(connector{dsn: path + "?" + rq.Encode(), drv: &msqlite.Driver{}})
	readers.SetMaxOpenConns(readConns)
	readers.SetMaxIdleConns(readConns)
	s := &Store{db: db, readers: readers}
	s.startCommitter()
	if outbox != nil {
		d, err := outbox(ctx, s)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: notification outbox: %w", err)
		}
		s.dispatch = d
	}
	return s, nil
}

// DB is the underlying database (its single writer connection).
func (s *Store) DB() *sql.DB { return s.db }

// Close lets the transactions already queued finish, then closes the
// database.
func (s *Store) Close() error {
	s.stopCommitter()
	return errors.Join(s.readers.Close(), s.db.Close())
}

// readConns is how many Reads run at once.
const readConns = 4

// Read runs fn in a read-only transaction on a reader connection: it sees
// the last commit and never waits for the writer.
func (s *Store) Read(ctx context.Context, fn func(tx posgate.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sqlTx, err := s.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	t := &tx{ctx: context.WithoutCancel(ctx), tx: sqlTx, store: s}
	if err := fn(t); err != nil {
		return err
	}
	if len(t.scheduled) > 0 {
		return errors.New("sqlite: a notification was scheduled in a read-only transaction; use InTx")
	}
	return sqlTx.Commit()
}

// Commits is the number of durable commits since Open, and Transactions
// the number of InTx calls that wrote: with group commit one commit
// carries several.
func (s *Store) Commits() uint64      { return s.commits.Load() }
func (s *Store) Transactions() uint64 { return s.txs.Load() }

// constraintErrors maps each constraint, as SQLite names it in a
// violation ("table.column, ..." for keys and unique indexes, the
// expression for an unnamed CHECK), to what its violation means. The
// PostgreSQL store's table maps the same constraints by their names there.
var constraintErrors = map[string]error{
	"merchants.name":                     posgate.ErrDuplicate,
	"principals.user":                    posgate.ErrDuplicate,
	"terminals.tid":                      posgate.ErrDuplicate,
	"cashiers.uid":                       posgate.ErrDuplicate,
	"requests.user, requests.request_id": posgate.ErrDuplicateRequest,
	"orders.trade_id":                    posgate.ErrDuplicate,
	"reversals.id":                       posgate.ErrReversalInFlight,
	"reversals.trade_id":                 posgate.ErrReversalInFlight, // reversals_one_active
	"commands.id":                        posgate.ErrTerminalBusy,
	"commands.tid":                       posgate.ErrTerminalBusy, // commands_one_in_flight
	"terminal_nonces.tid, terminal_nonces.nonce":         posgate.ErrDuplicate,
	"notifications.id":                                   posgate.ErrDuplicate,
	"refunds.refund_id":                                  posgate.ErrDuplicate,
	"refunds.merchant_id, refunds.m_refund_id":           posgate.ErrDuplicate,        // refunds_merchant_ref
	"refunded_amount >= 0 AND refunded_amount <= amount": posgate.ErrRefundNotAllowed, // the orders' refund bound
	"captures.capture_id":                                posgate.ErrAlreadyCaptured,
	"captures.trade_id":                                  posgate.ErrAlreadyCaptured, // captures_one_per_order
	"captures_amount":                                    posgate.ErrCaptureNotAllowed,
	"decrements.decrement_id":                            posgate.ErrDuplicate,
	"decrements_amount":                                  posgate.ErrCaptureNotAllowed,
	"jobs.name":                                          posgate.ErrDuplicate,
	"operators.name":                                     posgate.ErrDuplicate,
	"operator_actions.id":                                posgate.ErrDuplicate,
}

// interpretError translates a driver error into the domain's: a missing
// row is ErrNotFound, a constraint violation what constraintErrors says
// of that constraint, a foreign key violation ErrNotFound (the row
// referred to does not exist; SQLite does not name the key). Anything
// else is wrapped with what query, the statement that failed, does.
func interpretError(err error, query string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return posgate.ErrNotFound
	}
	// Named only on failure: describing every statement cost 3% of the
	// gateway's CPU under load.
	op := sqlstmt.Describe(query)
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return posgate.ErrNotFound
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_CHECK:
			// "constraint failed: UNIQUE constraint failed: NAME (CODE)"
			msg := se.Error()
			name := msg[strings.LastIndex(msg, "constraint failed: ")+len("constraint failed: "):]
			name, _, _ = strings.Cut(name, " (")
			if e, ok := constraintErrors[name]; ok {
				return e
			}
			return fmt.Errorf("%s: unmapped constraint %q: %w", op, name, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// locked reports whether err is lock contention with another connection,
// after which the whole transaction may run again.
func locked(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	primary := se.Code() & 0xff
	return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction, in the order of their numbers. It refuses a database that
// a newer binary migrated.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY) STRICT`); err != nil {
		return err
	}
	files, m, err := migrationState(ctx, db)
	if err != nil {
		return err
	}
	if err := m.CheckNotNewer(); err != nil {
		return err
	}
	for i, version := range m.Known {
		if err := applyMigration(ctx, db, version, "migration/"+files[i]); err != nil {
			return fmt.Errorf("migration %s: %w", files[i], err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Checked inside the write transaction: another process may be
	// migrating the same file.
	var applied bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, version).Scan(&applied); err != nil || applied {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version); err != nil {
		return err
	}
	return tx.Commit()
}

// micros is a time as stored.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros is an optional time as stored: NULL when absent.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// timeDest scans a stored time into *t.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column holds %T, want int64", src)
	}
	*d.t = time.UnixMicro(v).UTC()
	return nil
}

// nullTimeDest scans a stored optional time into *t.
type nullTimeDest struct{ t **time.Time }

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (timeDest{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}
