package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/posgate/posgate"
)

// querier is what migrationState reads the applied versions with: a
// transaction or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// migrationState is the embedded migration files, in order, and the
// versions they and the database hold; q nil reads no database.
func migrationState(ctx context.Context, q querier) ([]string, posgate.Migrations, error) {
	var m posgate.Migrations
	files, known, err := posgate.MigrationFiles(migrations)
	if err != nil {
		return nil, m, err
	}
	m.Known = known
	if q == nil {
		return files, m, nil
	}
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, m, err
	}
	m.Applied, err = pgx.CollectRows(rows, pgx.RowTo[int])
	return files, m, err
}

// Migrations reports the database's migrations without applying any.
func Migrations(ctx context.Context, dsn string) (posgate.Migrations, error) {
	// Parsed as Open parses it: the URL may carry pool settings that a
	// single connection would send to the server as parameters.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return posgate.Migrations{}, fmt.Errorf("postgres: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return posgate.Migrations{}, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return posgate.Migrations{}, fmt.Errorf("postgres: %w", err)
	}
	var q querier
	if exists {
		q = conn
	}
	_, m, err := migrationState(ctx, q)
	if err != nil {
		return m, fmt.Errorf("postgres: %w", err)
	}
	return m, nil
}
