// Package keyedrate is token buckets by key (a source address, a user),
// bounded in memory, for the gateway's rate limits.
package keyedrate

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiters is one bucket per key. A full bucket is the same as a new
// one, so when the map reaches maxKeys the full ones are dropped; if none
// is, the newcomers share one bucket rather than grow the map.
type Limiters struct {
	limit    rate.Limit
	burst    int
	mu       sync.Mutex
	m        map[string]*rate.Limiter
	overflow *rate.Limiter
}

const maxKeys = 1 << 16

// New returns buckets that refill at r tokens a second and hold burst.
func New(r, burst float64) *Limiters {
	b := int(math.Max(1, burst))
	return &Limiters{limit: rate.Limit(r), burst: b, m: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(r), b)}
}

func (k *Limiters) get(key string, now time.Time) *rate.Limiter {
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

// Take spends a token of key's bucket; the wait until one is due when
// there is none.
func (k *Limiters) Take(key string, now time.Time) (time.Duration, bool) {
	r := k.get(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Exhausted reports whether key's bucket has no token, without spending.
func (k *Limiters) Exhausted(key string, now time.Time) (time.Duration, bool) {
	t := k.get(key, now).TokensAt(now)
	if t >= 1 {
		return 0, false
	}
	return time.Duration((1 - t) / float64(k.limit) * float64(time.Second)), true
}

// SourceIP is the client's IP. posgate does not read X-Forwarded-For:
// behind a proxy every caller shares the proxy's address.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RetryAfter is Retry-After's whole seconds, rounded up.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
