// Package postgres is the posgate.Store on PostgreSQL, through
// github.com/jackc/pgx/v5 and its pool. It is the store for operators
// who run more than one gateway process, or who want their own backups
// and replication; it behaves as package sqlite does, and passes the same
// storetest suite.
//
// Transactions run at REPEATABLE READ. The invariants money depends on
// are constraints and compare-and-set updates, which hold at any level;
// what the level adds is that a transaction which reads a row and then
// writes it never sees ErrConflict because another transaction got there
// in between: PostgreSQL refuses the late write with a serialization
// failure, and InTx runs fn again on fresh data. That is how SQLite, with
// its single writer, behaves, so the payment rules see the same outcomes
// on both stores. READ COMMITTED would instead surface such races to the
// API as ErrConflict; SERIALIZABLE would add predicate locking the
// constraints make unnecessary.
//
// Times are timestamptz (microseconds) read back in UTC, as SQLite's
// INTEGER microseconds are.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/posgate/posgate"
)

// maxAttempts bounds InTx's runs of fn on serialization failures and
// deadlocks. Each failure means another transaction committed, so a few
// runs suffice unless many write the same row at once; the jittered
// backoff between runs spreads those out.
const maxAttempts = 10

// defaultMaxConns is the pool size unless the DSN sets pool_max_conns.
// PostgreSQL flushes the WAL of transactions committing together at once,
// so more connections than cores make commits cheaper under load.
const defaultMaxConns = 16

// SQLSTATE codes interpretError and InTx act on.
const (
	codeUniqueViolation      = "23505"
	codeCheckViolation       = "23514"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeAdminShutdown        = "57P01" // the backend was terminated
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
)

// migrationLock is the first key of the advisory lock that migrations
// hold; the second is the schema's name, so that databases with one schema
// per tenant or test migrate independently.
const migrationLock = 0x706f7367 // "posg"

//go:embed migration/*.sql
var migrations embed.FS

// Store is the PostgreSQL posgate.Store.
type Store struct {
	pool  *pgxpool.Pool
	queue NotificationQueue // nil: opened without an outbox
	trips *roundTrips
}

var _ posgate.Store = (*Store)(nil)

// Open connects to the database dsn names (a postgres:// URL or key=value
// string, as pgx accepts; pool_max_conns sets the pool size), applies the
// pending migrations and builds the notification queue with outbox.
// Several processes may open one database at once. A store opened with a
// nil outbox refuses to store notifications.
func Open(ctx context.Context, dsn string, outbox Outbox) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, trips: trips}
	if outbox != nil {
		q, err := outbox(ctx, s)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: notification outbox: %w", err)
		}
		s.queue = q
	}
	return s, nil
}

// Pool is the underlying connection pool, for River's pgx driver and for
// tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close waits for the connections in use to be released, then closes
// them all.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// InTx runs fn in a REPEATABLE READ transaction, running it again (at
// most maxAttempts times in all) when the transaction hits a serialization
// failure, a deadlock or a dead connection before its commit. Once the
// transaction has begun, ctx no longer cancels it: returning early could
// report a failure for writes that then commit, as the SQLite store's
// InTx also avoids.
func (s *Store) InTx(ctx context.Context, fn func(tx posgate.Tx) error) error {
	return s.attempts(ctx, fn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
}

// Read runs fn in a READ ONLY transaction: one snapshot, run again only
// when its connection turns out dead, since a read-only transaction never
// fails to serialize here.
func (s *Store) Read(ctx context.Context, fn func(tx posgate.Tx) error) error {
	return s.attempts(ctx, fn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
}

// attempts runs the transaction until it ends in a way a new run cannot
// avoid, maxAttempts times at most.
func (s *Store) attempts(ctx context.Context, fn func(tx posgate.Tx) error, opts pgx.TxOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			backoff := time.NewTimer(rand.N(time.Duration(1<<min(attempt, 6)) * time.Millisecond))
			select {
			case <-backoff.C:
			case <-ctx.Done():
				backoff.Stop()
				return ctx.Err()
			}
		}
		if err = s.run(ctx, fn, opts); !retryable(err) {
			return err
		}
	}
	return err
}

// run makes one attempt at the transaction. Its BEGIN is not sent on its
// own: it goes in one round trip with the transaction's first statement
// (see pipeline.go), and a transaction that runs no statement costs none.
func (s *Store) run(ctx context.Context, fn func(tx posgate.Tx) error, opts pgx.TxOptions) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return markLost(err)
	}
	// Release destroys a connection left inside a transaction, should the
	// rollback below fail.
	defer conn.Release()
	ctx = context.WithoutCancel(ctx)
	t := &tx{ctx: ctx, conn: conn.Conn(), begin: beginStatement(opts), store: s}
	defer t.rollback()
	err = fn(t)
	// fn may have turned a serialization failure or a lost connection into
	// an error of its own, or ignored it; the transaction is void either
	// way.
	if t.doomed != nil {
		return t.doomed
	}
	if err != nil {
		return err
	}
	return t.commit()
}

// beginStatement is the BEGIN that opts ask for.
func beginStatement(opts pgx.TxOptions) string {
	begin := "BEGIN ISOLATION LEVEL " + string(opts.IsoLevel)
	if opts.AccessMode != "" {
		begin += " " + string(opts.AccessMode)
	}
	return begin
}

// retryable reports whether err ended the transaction in a way that a new
// run of it may avoid: a serialization failure or deadlock, or a
// connection that died before the transaction committed (a server
// restart, a failover, an operator terminating backends: the pool then
// holds dead connections, and the next one works). A failure of the
// commit itself is never retried here: whether it committed is unknown,
// and the callers' compare-and-set makes their own retry safe.
func retryable(err error) bool {
	if errors.As(err, new(commitError)) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow:
			return true
		}
		return false
	}
	return errors.As(err, new(lostError))
}

// lostError is a driver error that is the connection failing rather than
// the server answering. Only the driver's errors are marked: fn's own
// errors end the transaction for good.
type lostError struct{ err error }

func (e lostError) Error() string { return e.err.Error() }
func (e lostError) Unwrap() error { return e.err }

// markLost wraps err in lostError when it is the connection failing.
func markLost(err error) error {
	if connectionLost(err) {
		return lostError{err}
	}
	return err
}

// connectionLost reports whether err, from the driver, is the connection
// failing rather than the server answering.
func connectionLost(err error) bool {
	if err == nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	return !errors.As(err, &pe)
}

// commitError is a commit whose connection failed: never retried, since
// the transaction may have committed.
type commitError struct{ err error }

func (e commitError) Error() string { return "commit: " + e.err.Error() }
func (e commitError) Unwrap() error { return e.err }

// constraintErrors maps each constraint, by its name, to what its
// violation means. The SQLite store's table maps the same constraints,
// but for the compare-and-set misses cas_missed names (PostgreSQL only:
// SQLite's updates report their misses at once).
var constraintErrors = map[string]error{
	"merchants_name_key":     posgate.ErrDuplicate,
	"principals_pkey":        posgate.ErrDuplicate,
	"terminals_pkey":         posgate.ErrDuplicate,
	"cashiers_pkey":          posgate.ErrDuplicate,
	"requests_pkey":          posgate.ErrDuplicateRequest,
	"orders_pkey":            posgate.ErrDuplicate,
	"reversals_pkey":         posgate.ErrReversalInFlight,
	"reversals_one_active":   posgate.ErrReversalInFlight,
	"commands_pkey":          posgate.ErrTerminalBusy,
	"commands_one_in_flight": posgate.ErrTerminalBusy,
	"terminal_nonces_pkey":   posgate.ErrDuplicate,
	"notifications_pkey":     posgate.ErrDuplicate,
	"refunds_pkey":           posgate.ErrDuplicate,
	"refunds_merchant_ref":   posgate.ErrDuplicate,
	"orders_check":           posgate.ErrRefundNotAllowed, // the orders' refund bound
	"orders_version":         posgate.ErrConflict,         // UpdateOrder's compare-and-set (cas_missed)
	"orders_missing":         posgate.ErrNotFound,
	"reversals_missing":      posgate.ErrNotFound,
	"commands_in_flight":     posgate.ErrConflict, // FinishCommand held back, the command not in flight
	"captures_pkey":          posgate.ErrAlreadyCaptured,
	"captures_one_per_order": posgate.ErrAlreadyCaptured,
	"captures_amount":        posgate.ErrCaptureNotAllowed,
	"decrements_pkey":        posgate.ErrDuplicate,
	"decrements_amount":      posgate.ErrCaptureNotAllowed,
	"jobs_pkey":              posgate.ErrDuplicate,
	"operators_pkey":         posgate.ErrDuplicate,
	"operator_actions_pkey":  posgate.ErrDuplicate,
}

// interpretError translates a driver error into the domain's: a missing
// row is ErrNotFound, a unique or check violation what constraintErrors
// says of that constraint, a foreign key violation ErrNotFound (the row
// referred to does not exist). Anything else is wrapped with op, the
// statement that failed.
func interpretError(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return posgate.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeForeignKeyViolation:
			return posgate.ErrNotFound
		case codeUniqueViolation, codeCheckViolation:
			if e, ok := constraintErrors[pe.ConstraintName]; ok {
				return e
			}
			return fmt.Errorf("%s: unmapped constraint %q: %w", op, pe.ConstraintName, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// migrate applies the embedded migrations not yet recorded, in the order
// of their numbers, all in one transaction that holds an advisory lock:
// a second process starting at the same time waits, then finds them
// applied. PostgreSQL's DDL is transactional, so a failed migration
// leaves nothing behind. It refuses a database that a newer binary
// migrated.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	// READ COMMITTED, so that statements after the lock see what the
	// process that held it committed.
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, int32(migrationLock)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer NOT NULL PRIMARY KEY)`); err != nil {
		return err
	}
	files, m, err := migrationState(ctx, tx)
	if err != nil {
		return err
	}
	if err := m.CheckNotNewer(); err != nil {
		return err
	}
	for i, version := range m.Known {
		if slices.Contains(m.Applied, version) {
			continue
		}
		name := files[i]
		body, err := migrations.ReadFile("migration/" + name)
		if err != nil {
			return err
		}
		// No arguments: pgx sends it with the simple protocol, which runs
		// several statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
