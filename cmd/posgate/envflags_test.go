package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestEveryGatewayFlagHasItsVariable(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	for _, c := range [...]struct {
		name  string
		flags *pflag.FlagSet
	}{{"serve", serveCmd(e).Flags()}, {"demo", demoCmd(e).Flags()}} {
		n := 0
		c.flags.VisitAll(func(f *pflag.Flag) {
			n++
			require.Equal(t, []string{envName(f.Name)}, f.Annotations[envAnnotation], "%s --%s", c.name, f.Name)
			require.Contains(t, f.Usage, "(env "+envName(f.Name)+")", "--help names it")
		})
		require.Positive(t, n)
	}
	require.Equal(t, "POSGATE_READ_HEADER_TIMEOUT", envName("read-header-timeout"))
}

func TestHelpShowsNoSecret(t *testing.T) {
	env := []string{"POSGATE_DB=postgres://posgate:s3cret-pw@db:5432/pg", "POSGATE_SECRET=t0p-secret-key", "POSGATE_ADMIN_TOKEN=adm1n-token"}
	for _, args := range [][]string{
		{"serve", "--help"}, {"demo", "--help"}, {"call", "--help"}, {"sign", "--help"}, {"terminal", "--help"}, {"listen", "--help"},
		{"terminals", "add", "--help"}, {"orders", "list", "--help"}, {"refunds", "approve", "--help"},
	} {
		out, stderr, err := runIn(t, env, args...)
		require.NoError(t, err, stderr)
		require.Contains(t, out, "Usage:")
		for _, secret := range []string{"s3cret-pw", "t0p-secret-key", "adm1n-token"} {
			require.NotContains(t, out+stderr, secret, args)
		}
	}
}

func TestVariablesSetFlagsAndTheCommandLineWins(t *testing.T) {
	secret := strings.Repeat("ab", 32)
	args := []string{"call", "QueryOrder", "--dry-run", "--user", "016683", "--time", "1546588959", "trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121"}
	byFlag, stderr, err := runIn(t, nil, append(args, "--secret", secret)...)
	require.NoError(t, err, stderr)
	byEnv, stderr, err := runIn(t, []string{"POSGATE_SECRET=" + secret}, args...)
	require.NoError(t, err, stderr)
	require.Equal(t, byFlag, byEnv)
	both, stderr, err := runIn(t, []string{"POSGATE_SECRET=" + strings.Repeat("cd", 32)}, append(args, "--secret", secret)...)
	require.NoError(t, err, stderr)
	require.Equal(t, byFlag, both, "the flag wins over the variable")
}

func TestServeValuesCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posgate.db")
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"POSGATE_HEARTBEAT=0s"}, nil, "--heartbeat (or POSGATE_HEARTBEAT) must be above zero, not 0s"},
		{nil, []string{"--reversal-wait", "-5s"}, "--reversal-wait (or POSGATE_REVERSAL_WAIT) must be above zero, not -5s"},
		{[]string{"POSGATE_SALE_TIMEOUT=soon"}, nil, `POSGATE_SALE_TIMEOUT (for --sale-timeout): time: invalid duration "soon"`},
		{[]string{"POSGATE_METRICS_AUTH=yes"}, nil, "POSGATE_METRICS_AUTH (for --metrics-auth)"},
		{[]string{"POSGATE_MAX_CONNS=many"}, nil, "POSGATE_MAX_CONNS (for --max-conns)"},
		{[]string{"POSGATE_ADDR=8080"}, nil, `--addr "8080" (or POSGATE_ADDR): want host:port`},
		{nil, []string{"--tls-cert", missing}, "--tls-cert and --tls-key (or POSGATE_TLS_CERT and POSGATE_TLS_KEY) go together"},
		{[]string{"POSGATE_TLS_CERT=" + missing, "POSGATE_TLS_KEY=" + missing}, nil, "missing.pem: no such file"},
	} {
		_, stderr, err := runIn(t, tc.env, append([]string{"serve", "--acquirer", "simulated", "--db", db}, tc.args...)...)
		require.Error(t, err, "%v %v", tc.env, tc.args)
		require.Contains(t, stderr, tc.want, "%v %v", tc.env, tc.args)
	}
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "refused before the database is opened")
}
