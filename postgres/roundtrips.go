package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// roundTrips counts, for the whole pool, the round trips to the server
// (a statement on its own, or a batch) and the statements they carried:
// PostgreSQL's cost per payment is mostly per statement and per round
// trip, so the benchmarks report both. Prepares of new statements (once
// per statement and connection) are not counted.
type roundTrips struct {
	trips, statements atomic.Uint64
}

var (
	_ pgx.QueryTracer = (*roundTrips)(nil)
	_ pgx.BatchTracer = (*roundTrips)(nil)
)

func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.trips.Add(1)
	c.statements.Add(1)
	return ctx
}

func (*roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.trips.Add(1)
	c.statements.Add(uint64(d.Batch.Len()))
	return ctx
}

func (*roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// RoundTrips reports the round trips to the server and the statements
// they carried since the store opened, on all its connections (River's
// included).
func (s *Store) RoundTrips() (trips, statements uint64) {
	return s.trips.trips.Load(), s.trips.statements.Load()
}
