package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/posgate/posgate/protocol"
	"golang.org/x/time/rate"
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

// keyedLimiters is one bucket per key. A full bucket is the same as a new
// one, so when the map reaches maxKeys the full ones are dropped; if none
// is, the newcomers share one bucket rather than grow the map.
type keyedLimiters struct {
	limit    rate.Limit
	burst    int
	mu       sync.Mutex
	m        map[string]*rate.Limiter
	overflow *rate.Limiter
}

const maxKeys = 1 << 16

func newKeyed(r, burst float64) *keyedLimiters {
	b := int(math.Max(1, burst))
	return &keyedLimiters{limit: rate.Limit(r), burst: b, m: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(r), b)}
}

func (k *keyedLimiters) get(key string, now time.Time) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l, ok := k.m[key]; ok {
		return l
	}
	if len(k.m) >= maxKeys {
		for key, l := range k.m {
			if l.TokensAt(now) >= float64(k.burst) {
				delete(k.m, key)
			}
		}
		if len(k.m) >= maxKeys {
			return k.overflow
		}
	}
	l := rate.NewLimiter(k.limit, k.burst)
	k.m[key] = l
	return l
}

// take spends a token of key's bucket; the wait until one is due when
// there is none.
func (k *keyedLimiters) take(key string, now time.Time) (time.Duration, bool) {
	r := k.get(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// exhausted reports whether key's bucket has no token, without spending.
func (k *keyedLimiters) exhausted(key string, now time.Time) (time.Duration, bool) {
	t := k.get(key, now).TokensAt(now)
	if t >= 1 {
		return 0, false
	}
	return time.Duration((1 - t) / float64(k.limit) * float64(time.Second)), true
}

type limiters struct {
	user, addr, authFail *keyedLimiters
}

func newLimiters(l RateLimits) *limiters {
	return &limiters{
		user:     newKeyed(l.PerUser, l.PerUserBurst),
		addr:     newKeyed(l.PerAddr, l.PerAddrBurst),
		authFail: newKeyed(l.AuthFailures, l.AuthFailuresBurst),
	}
}

// sourceAddr is the client's IP. posgate does not read X-Forwarded-For:
// behind a proxy every caller shares the proxy's address.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter is Retry-After's whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// limited is the refusal of a caller over its limit: -1006 in the
// envelope, like every answer, and when to come back in Retry-After.
func limited(w http.ResponseWriter, wait time.Duration, why string) error {
	w.Header().Set("Retry-After", retryAfter(wait))
	return protocol.Errorf(protocol.CodeRateLimited, "Too many requests: %s; retry after %s s", why, retryAfter(wait))
}
