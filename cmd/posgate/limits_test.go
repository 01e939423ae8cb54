package main

import (
	"testing"
	"time"

	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

func parseLimits(t *testing.T, vars map[string]string, args ...string) (*limitFlags, error) {
	t.Helper()
	e := &env{getenv: func(k string) string { return vars[k] }}
	c := &cobra.Command{Use: "serve"}
	var l limitFlags
	l.register(c)
	require.NoError(t, c.ParseFlags(args))
	if err := applyEnv(e, c); err != nil {
		return &l, err
	}
	return &l, checkPositive(c)
}

func TestLimitFlags(t *testing.T) {
	l, err := parseLimits(t, nil)
	require.NoError(t, err)
	require.Equal(t, server.HTTPLimits{
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10, MaxConns: 10000,
	}, l.http, "the documented defaults")
	require.Equal(t, httpapi.RateLimits{PerUser: 50, PerUserBurst: 100, PerAddr: 200, PerAddrBurst: 400, AuthFailures: 1, AuthFailuresBurst: 10}, l.rates)

	l, err = parseLimits(t, map[string]string{"POSGATE_IDLE_TIMEOUT": "5s", "POSGATE_MAX_CONNS": "50"}, "--max-conns", "70", "--read-timeout", "7s")
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, l.http.IdleTimeout, "from the environment")
	require.Equal(t, 70, l.http.MaxConns, "the flag wins over the environment")
	require.Equal(t, 7*time.Second, l.http.ReadTimeout)

	_, err = parseLimits(t, map[string]string{"POSGATE_WRITE_TIMEOUT": "soon"})
	require.ErrorContains(t, err, "POSGATE_WRITE_TIMEOUT")
	_, err = parseLimits(t, nil, "--max-header-bytes", "0")
	require.ErrorContains(t, err, "--max-header-bytes (or POSGATE_MAX_HEADER_BYTES) must be above zero, not 0")
	l, err = parseLimits(t, map[string]string{"POSGATE_RATE_USER": "2.5"})
	require.NoError(t, err)
	require.Equal(t, 2.5, l.rates.PerUser)
	_, err = parseLimits(t, nil, "--rate-auth-failures", "0")
	require.ErrorContains(t, err, "--rate-auth-failures (or POSGATE_RATE_AUTH_FAILURES) must be above zero")
	l, err = parseLimits(t, map[string]string{"POSGATE_RATE_ACCEPT": "40"}, "--rate-accept-burst", "80")
	require.NoError(t, err)
	require.Equal(t, termlink.Rate{PerSecond: 40, Burst: 80}, l.link.Accepts)
	_, err = parseLimits(t, nil, "--rate-accept", "0")
	require.ErrorContains(t, err, "--rate-accept (or POSGATE_RATE_ACCEPT) must be above zero")
	_, err = parseLimits(t, nil, "--idle-timeout", "-1s")
	require.ErrorContains(t, err, "--idle-timeout (or POSGATE_IDLE_TIMEOUT) must be above zero, not -1s")
}
