package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	msqlite "modernc.org/sqlite"

	"github.com/posgate/posgate"
)

// migrationState is the embedded migration files, in order, and the
// versions they and the database hold.
func migrationState(ctx context.Context, db *sql.DB) ([]string, posgate.Migrations, error) {
	var m posgate.Migrations
	files, known, err := posgate.MigrationFiles(migrations)
	if err != nil {
		return nil, m, err
	}
	m.Known = known
	if db == nil {
		return files, m, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, m, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, m, err
		}
		m.Applied = append(m.Applied, v)
	}
	return files, m, rows.Err()
}

// Migrations reports the database's migrations without applying any and
// without creating the file: a database not created yet has every one
// pending.
func Migrations(ctx context.Context, path string) (posgate.Migrations, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		_, m, err := migrationState(ctx, nil)
		return m, err
	}
	q := url.Values{"_pragma": {"busy_timeout(5000)", "query_only(ON)"}}
	db := sql.OpenDB(connector{dsn: path + "?" + q.Encode(), drv: &msqlite.Driver{}})
	defer db.Close()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists); err != nil {
		return posgate.Migrations{}, fmt.Errorf("sqlite: %w", err)
	}
	if !exists {
		_, m, err := migrationState(ctx, nil)
		return m, err
	}
	_, m, err := migrationState(ctx, db)
	if err != nil {
		return m, fmt.Errorf("sqlite: %w", err)
	}
	return m, nil
}
