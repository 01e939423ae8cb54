package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClusterRefusedOnSQLite: --cluster, POSGATE_CLUSTER and the
// deprecated --cluster-nats each refuse a SQLite database, before it is
// created; --cluster and its alias naming different URLs are refused.
func TestClusterRefusedOnSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	env := []string{"POSGATE_ADMIN_TOKEN=x", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32)}
	serve := []string{"serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", db}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--cluster", "nats://127.0.0.1:4222"}, "cluster mode needs a PostgreSQL database"},
		{[]string{"POSGATE_CLUSTER=nats://127.0.0.1:4222"}, nil, "cluster mode needs a PostgreSQL database"},
		{nil, []string{"--cluster-nats", "nats://127.0.0.1:4222"}, "cluster mode needs a PostgreSQL database"},
		{[]string{"POSGATE_CLUSTER_NATS=nats://127.0.0.1:4222"}, nil, "cluster mode needs a PostgreSQL database"},
		{nil, []string{"--cluster", "nats://a:4222", "--cluster-nats", "nats://b:4222"}, "name different URLs"},
	} {
		_, stderr, err := runIn(t, append(env, tc.env...), append(serve, tc.args...)...)
		require.Error(t, err, tc)
		require.Contains(t, stderr, tc.want, tc)
	}
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "refused before the database is opened")
}
