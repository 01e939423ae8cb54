package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/sqlite"
)

func TestMigrateStatusUpAndNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "posgate.db")
	known, err := sqlite.Migrations(ctx, db)
	require.NoError(t, err)
	all := versions(known.Known) // from the embedded files, never written here

	out, stderr, err := runIn(t, nil, "migrate", "status", "--db", db)
	require.NoError(t, err, stderr)
	require.Equal(t, "applied  none\npending  "+all+"\n", out)
	require.NoFileExists(t, db)

	out, stderr, err = runIn(t, []string{"POSGATE_DB=" + db}, "migrate", "up")
	require.NoError(t, err, stderr)
	require.Equal(t, "applied  "+all+"\n", out)
	out, stderr, err = runIn(t, nil, "migrate", "status", "--db", db)
	require.NoError(t, err, stderr)
	require.Equal(t, "applied  "+all+"\npending  none\n", out)

	// A newer binary's migration: every command refuses the database.
	s, err := sqlite.Open(ctx, db, nil)
	require.NoError(t, err)
	newer := known.Known[len(known.Known)-1] + 1
	_, err = s.DB().ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, newer)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	out, stderr, err = runIn(t, nil, "migrate", "status", "--db", db)
	require.Error(t, err)
	require.Contains(t, out, "unknown  "+versions([]int{newer})+"\n")
	require.Contains(t, stderr, "this binary does not know")
	for _, args := range [][]string{
		{"migrate", "up", "--db", db},
		{"terminals", "list", "--db", db},
		{"orders", "list", "--db", db},
		{"serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db},
	} {
		_, stderr, err := runIn(t, nil, args...)
		require.Error(t, err, args)
		require.Contains(t, stderr, "migrated by a newer posgate", args)
	}
}
