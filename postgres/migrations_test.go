package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/postgres"
)

func TestMigrationsStatusAndNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := schemaDSN(t)
	m, err := postgres.Migrations(ctx, dsn)
	require.NoError(t, err)
	require.NotEmpty(t, m.Known)
	require.Equal(t, m.Known, m.Pending(), "a schema not migrated yet")

	s := open(t, dsn)
	newest := m.Known[len(m.Known)-1]
	_, err = s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, newest+1)
	require.NoError(t, err, "as a newer binary would")
	require.NoError(t, s.Close())

	m, err = postgres.Migrations(ctx, dsn)
	require.NoError(t, err)
	require.Empty(t, m.Pending())
	require.Equal(t, []int{newest + 1}, m.Unknown())

	_, err = postgres.Open(ctx, dsn, nil)
	require.ErrorContains(t, err, "this binary does not know")
}
