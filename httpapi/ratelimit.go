package httpapi

import (
	"net/http"
	"time"

	"github.com/posgate/posgate/internal/keyedrate"
	"github.com/posgate/posgate/protocol"
)

// RateLimits bounds /Payments per caller. Each is a token bucket: Rate
// requests a second on average, Burst at once. Zero values take the
// defaults shown.
type RateLimits struct {
	// PerUser counts a user's authenticated requests (50/s, burst 100).
	// Counted after the signature is checked, so nobody can spend another
	// user's budget by naming it.
	PerUser, PerUserBurst float64
	// PerAddr counts every request from a source address (200/s, burst
	// 400): a shop's tills may share one address behind NAT.
	PerAddr, PerAddrBurst float64
	// AuthFailures counts an address's failed authentications, unknown
	// user or bad signature (1/s, burst 10); once spent, everything from
	// the address is refused until it refills.
	AuthFailures, AuthFailuresBurst float64
}

// DefaultRateLimits are the limits a zero field of RateLimits takes.
var DefaultRateLimits = RateLimits{
	PerUser: 50, PerUserBurst: 100, PerAddr: 200, PerAddrBurst: 400, AuthFailures: 1, AuthFailuresBurst: 10,
}

func (l RateLimits) withDefaults() RateLimits {
	d := DefaultRateLimits
	for _, f := range []struct{ p, def *float64 }{
		{&l.PerUser, &d.PerUser}, {&l.PerUserBurst, &d.PerUserBurst}, {&l.PerAddr, &d.PerAddr},
		{&l.PerAddrBurst, &d.PerAddrBurst}, {&l.AuthFailures, &d.AuthFailures}, {&l.AuthFailuresBurst, &d.AuthFailuresBurst},
	} {
		if *f.p <= 0 {
			*f.p = *f.def
		}
	}
	return l
}

type limiters struct {
	user, addr, authFail *keyedrate.Limiters
}

func newLimiters(l RateLimits) *limiters {
	return &limiters{
		user:     keyedrate.New(l.PerUser, l.PerUserBurst),
		addr:     keyedrate.New(l.PerAddr, l.PerAddrBurst),
		authFail: keyedrate.New(l.AuthFailures, l.AuthFailuresBurst),
	}
}

func sourceAddr(r *http.Request) string { return keyedrate.SourceIP(r) }

func retryAfter(d time.Duration) string { return keyedrate.RetryAfter(d) }

// limited is the refusal of a caller over its limit: -1006 in the
// envelope, like every answer, and when to come back in Retry-After.
func limited(w http.ResponseWriter, wait time.Duration, why string) error {
	w.Header().Set("Retry-After", retryAfter(wait))
	return protocol.Errorf(protocol.CodeRateLimited, "Too many requests: %s; retry after %s s", why, retryAfter(wait))
}
