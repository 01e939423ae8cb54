package httpapi

import (
	"strings"
	"sync"
	"time"
)

// dummySecret is what an unknown user's signature is checked against, so
// refusing an unknown user costs the HMAC that refusing a bad signature
// of a known one does.
var dummySecret = strings.Repeat("0", 64)

// A known user is answered from the payment service's cache, an unknown
// one from the database: without this cache, the time of a refusal would
// tell whether a user exists. Entries expire so a user added meanwhile
// (posgate cashiers add, from another process) is served within
// unknownTTL; the cache is emptied when full, so a flood of invented
// names costs memory of at most unknownMax entries.
const (
	unknownTTL = 10 * time.Second
	unknownMax = 4096
)

type unknownUsers struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (u *unknownUsers) known(user string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.until[user]
	return ok && now.Before(t)
}

func (u *unknownUsers) add(user string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.until == nil || len(u.until) >= unknownMax {
		u.until = make(map[string]time.Time)
	}
	u.until[user] = now.Add(unknownTTL)
}
