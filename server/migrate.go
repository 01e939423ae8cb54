package server

import (
	"context"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/postgres"
	"github.com/posgate/posgate/sqlite"
)

// MigrationStatus is the schema versions of the database dsn names, next
// to this binary's, with nothing applied.
func MigrationStatus(ctx context.Context, dsn string) (posgate.Migrations, error) {
	if path, ok := sqlitePath(dsn); ok {
		return sqlite.Migrations(ctx, path)
	}
	return postgres.Migrations(ctx, dsn)
}

// MigrateUp applies the pending migrations, posgate's and the notification
// queue's, as any start would, and needs neither the master key nor the
// admin token. A database a newer binary migrated is refused.
func MigrateUp(ctx context.Context, dsn string) error {
	st, _, err := openStore(ctx, dsn, func(posgate.Store) *notify.Config { return nil })
	if err != nil {
		return err
	}
	return st.Close()
}
