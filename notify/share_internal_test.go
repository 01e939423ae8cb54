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
	s := newShares(2, 6, time.Second)
	require.True(t, s.acquire(1))
	require.True(t, s.acquire(1))
	require.False(t, s.acquire(1), "merchant 1 is at its share")
	require.True(t, s.acquire(2), "merchant 2 has its own")
	s.release(1, false, 0)
	require.True(t, s.acquire(1), "a released slot is free again")
	require.False(t, s.acquire(1), "a failed merchant does not borrow")

	s.release(1, true, time.Millisecond)
	require.True(t, s.acquire(1))
	require.True(t, s.acquire(1), "a quick merchant borrows an idle worker")
	require.False(t, s.acquire(1), "but leaves a share free for the others: 4 of 6 busy")
	require.True(t, s.acquire(3))
	require.True(t, s.acquire(3), "the share left free")
	s.release(1, true, 2*quickly)
	require.False(t, s.acquire(1), "a slow success does not borrow")
	for _, m := range []int64{1, 1, 2, 3, 3} {
		s.release(m, false, 0)
	}
	require.Empty(t, s.inFlight, "idle merchants leave nothing behind")
	require.Zero(t, s.total)
	for range 100 {
		d := s.retryIn()
		require.True(t, d >= time.Second && d <= 2*time.Second, d)
	}
}
