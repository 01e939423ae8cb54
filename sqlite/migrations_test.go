package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/sqlite"
)

func TestMigrationsStatusAndNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "posgate.db")
	m, err := sqlite.Migrations(ctx, path)
	require.NoError(t, err)
	require.NotEmpty(t, m.Known)
	require.Empty(t, m.Applied)
	require.Equal(t, m.Known, m.Pending(), "a database not created yet")
	require.NoFileExists(t, path, "status creates nothing")

	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	newest := m.Known[len(m.Known)-1]
	_, err = s.DB().ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, newest+1)
	require.NoError(t, err, "as a newer binary would")
	require.NoError(t, s.Close())

	m, err = sqlite.Migrations(ctx, path)
	require.NoError(t, err)
	require.Empty(t, m.Pending())
	require.Equal(t, []int{newest + 1}, m.Unknown())

	_, err = sqlite.Open(ctx, path, nil)
	require.ErrorContains(t, err, "this binary does not know")
	require.ErrorContains(t, err, "newer posgate")
}
