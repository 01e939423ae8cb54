package e2e

import (
	"strconv"
	"testing"

	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/stretchr/testify/require"
)

// TestFloodFromOneUserLeavesOthersServed: a user over its limit is
// answered -1006 with Retry-After, while another user from the same
// address keeps being served.
func TestFloodFromOneUserLeavesOthersServed(t *testing.T) {
	g := start(t, func(c *server.Config) {
		c.RateLimits = httpapi.RateLimits{PerUser: 1, PerUserBurst: 5, PerAddr: 1000, PerAddrBurst: 1000}
	})
	flooder := g.addCashier("Shop A", "C1")
	other := g.addCashier("Shop B", "C2")
	query := map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"}
	now := g.Clock.Now().Unix()

	limited := 0
	for range 20 {
		_, env, hdr := rawCall(t, g.URL, signed("C1", flooder, "v3.QueryOrder", now, query))
		if env.Code == protocol.CodeRateLimited {
			limited++
			secs, err := strconv.Atoi(hdr.Get("Retry-After"))
			require.NoError(t, err, "Retry-After: %q", hdr.Get("Retry-After"))
			require.GreaterOrEqual(t, secs, 1)
			continue
		}
		require.Equal(t, protocol.CodeTradeNotFound, env.Code, env.Message)
	}
	require.GreaterOrEqual(t, limited, 14, "at most the burst and what refilled meanwhile is served")
	_, env, hdr := rawCall(t, g.URL, signed("C2", other, "v3.QueryOrder", now, query))
	require.Equal(t, protocol.CodeTradeNotFound, env.Code, "another user is served: %s", env.Message)
	require.Empty(t, hdr.Get("Retry-After"))
}

// TestFailedAuthenticationsAreLimitedPerAddress: past the failure budget
// an address is refused -1006 before its signatures are even checked.
func TestFailedAuthenticationsAreLimitedPerAddress(t *testing.T) {
	g := start(t, func(c *server.Config) {
		c.RateLimits = httpapi.RateLimits{AuthFailures: 0.01, AuthFailuresBurst: 3}
	})
	secret := g.addCashier("Shop A", "C1")
	query := map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"}
	now := g.Clock.Now().Unix()
	for range 3 {
		_, env, _ := rawCall(t, g.URL, signed("C1", secret+"00", "v3.QueryOrder", now, query))
		require.Equal(t, protocol.CodeAuthFailed, env.Code)
	}
	_, env, hdr := rawCall(t, g.URL, signed("NOBODY", secret, "v3.QueryOrder", now, query))
	require.Equal(t, protocol.CodeRateLimited, env.Code, env.Message)
	require.NotEmpty(t, hdr.Get("Retry-After"))
	_, env, _ = rawCall(t, g.URL, signed("C1", secret, "v3.QueryOrder", now, query))
	require.Equal(t, protocol.CodeRateLimited, env.Code, "a good signature from the address waits too")
}
