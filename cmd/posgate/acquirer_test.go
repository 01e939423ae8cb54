package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServeRequiresAnAcquirer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "posgate.db")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "no acquirer chosen: --acquirer (or POSGATE_ACQUIRER) must be one of simulated"},
		{nil, []string{"--acquirer", "adyen"}, `--acquirer "adyen" (or POSGATE_ACQUIRER): no such acquirer; want one of simulated`},
		{[]string{"POSGATE_ACQUIRER=Simulated"}, nil, `--acquirer "Simulated"`},
	} {
		_, stderr, err := runIn(t, tc.env, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...)...)
		require.Error(t, err, tc.args)
		require.Contains(t, stderr, tc.want)
	}
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "refused before the database is opened")
}

// The simulator chosen through the environment is announced in the log
// and by /readyz.
func TestServeAnnouncesTheSimulator(t *testing.T) {
	env := []string{"POSGATE_ACQUIRER=simulated", "POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32)}
	m, serve, out := started(t, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "posgate.db"))
	resp, err := http.Get(m[1] + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"status":"ready","acquirer":"simulated"}`, string(body))
	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	require.NoError(t, serve.Wait())
	require.Regexp(t, `level=WARN msg="refunds go to the SIMULATED acquirer`, out.String())
}
