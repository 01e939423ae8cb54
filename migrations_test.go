package posgate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMigrations(t *testing.T) {
	m := Migrations{Known: []int{1, 2, 3, 4, 6}, Applied: []int{1, 2, 3}}
	require.Equal(t, []int{4, 6}, m.Pending())
	require.Empty(t, m.Unknown())
	require.NoError(t, m.CheckNotNewer())

	newer := Migrations{Known: []int{1, 2, 3, 4, 6}, Applied: []int{1, 2, 3, 4, 5, 6, 7}}
	require.Equal(t, []int{5, 7}, newer.Unknown(), "a gap is unknown too: another branch's migration")
	require.Empty(t, newer.Pending())
	require.EqualError(t, newer.CheckNotNewer(), "the database's schema has migrations 0005, 0007 that this binary does not know (it knows 0001, 0002, 0003, 0004, 0006): it was migrated by a newer posgate; run that version, or restore the backup taken before the upgrade")

	v, err := MigrationVersion("0006_operator_reads.sql", 4)
	require.NoError(t, err)
	require.Equal(t, 6, v)
	_, err = MigrationVersion("0004_x.sql", 4)
	require.Error(t, err)
	_, err = MigrationVersion("x.sql", 0)
	require.Error(t, err)
}
