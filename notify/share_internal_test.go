package notify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

func TestShareDefaults(t *testing.T) {
	t.Parallel()
	secret := func(context.Context, string) (string, error) { return "", nil }
	var st posgate.Store = struct{ posgate.Store }{}
	for _, c := range []struct {
		workers, perMerchant, wantLimit int
		wait, wantWait                  time.Duration
	}{
		{0, 0, 10, 0, time.Second}, // 100 workers, a tenth each
		{25, 0, 2, 0, time.Second}, // a tenth, rounded down
		{5, 0, 1, 0, time.Second},  // never zero
		{5, 3, 3, time.Minute, time.Minute},
	} {
		w, err := newWorker(Config{Store: st, Secret: secret, Workers: c.workers, PerMerchant: c.perMerchant, ShareWait: c.wait})
		require.NoError(t, err)
		require.Equal(t, c.wantLimit, w.shares.limit, "%+v", c)
		require.Equal(t, c.wantWait, w.shares.wait, "%+v", c)
	}
}

func TestShareLimit(t *testing.T) {
	t.Parallel()
	s := newShares(2, time.Second)
	require.True(t, s.acquire(1))
	require.True(t, s.acquire(1))
	require.False(t, s.acquire(1), "merchant 1 is at its share")
	require.True(t, s.acquire(2), "merchant 2 has its own")
	s.release(1)
	require.True(t, s.acquire(1), "a released slot is free again")
	s.release(1)
	s.release(1)
	s.release(2)
	require.Empty(t, s.inFlight, "idle merchants leave nothing behind")
	for range 100 {
		d := s.retryIn()
		require.True(t, d >= time.Second && d <= 2*time.Second, d)
	}
}
