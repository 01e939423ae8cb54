package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteQuery(t *testing.T) {
	ins := write{stmt: `INSERT INTO requests (a, b) VALUES ($1, $2)`}
	require.Equal(t, ins.stmt, ins.query())
	upd := write{stmt: `UPDATE orders SET a = $2 WHERE k = $1 RETURNING 1`, miss: `cas_missed('orders_version')`}
	require.Equal(t, `WITH u AS (UPDATE orders SET a = $2 WHERE k = $1 RETURNING 1) SELECT cas_missed('orders_version') WHERE NOT EXISTS (SELECT 1 FROM u)`, upd.query())
}
