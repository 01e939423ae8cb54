package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergedWrites(t *testing.T) {
	ins := write{table: "requests", stmt: `INSERT INTO requests (a, b) VALUES ($1, $2)`, args: []any{1, 2}}
	upd := write{table: "orders", stmt: `UPDATE orders SET a = $2 WHERE k = $1 RETURNING 1`, miss: `cas_missed('orders_version')`, args: []any{"k", 3}}
	other := write{table: "orders", stmt: `INSERT INTO orders (a) VALUES ($1)`, args: []any{4}}

	q, args := merged([]write{upd})
	require.Equal(t, `WITH u AS (UPDATE orders SET a = $2 WHERE k = $1 RETURNING 1) SELECT cas_missed('orders_version') WHERE NOT EXISTS (SELECT 1 FROM u)`, q)
	require.Equal(t, []any{"k", 3}, args)

	q, args = merged([]write{ins, upd})
	require.Equal(t, `WITH w0 AS (INSERT INTO requests (a, b) VALUES ($1, $2)), w1 AS (UPDATE orders SET a = $4 WHERE k = $3 RETURNING 1) `+
		`SELECT cas_missed('orders_version') WHERE NOT EXISTS (SELECT 1 FROM w1)`, q)
	require.Equal(t, []any{1, 2, "k", 3}, args)

	q, _ = merged([]write{ins, other})
	require.Equal(t, `WITH w0 AS (INSERT INTO requests (a, b) VALUES ($1, $2)), w1 AS (INSERT INTO orders (a) VALUES ($3)) SELECT NULL WHERE false`, q)

	require.Equal(t, [][]write{{ins, upd}, {other}}, groups([]write{ins, upd, other}), "one table once per statement")
	require.Equal(t, [][]write{{ins}, {ins, upd}}, groups([]write{ins, ins, upd}))
	require.Empty(t, groups(nil))
	require.Equal(t, `$11, $12 and $20`, renumber(`$1, $2 and $10`, 10))
}
