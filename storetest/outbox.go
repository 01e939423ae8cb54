package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// Outbox opens stores for RunOutbox.
type Outbox struct {
	// Open returns a new, empty store with its notification outbox.
	Open func(t *testing.T) posgate.Store
	// OpenWithout returns a new, empty store opened without an outbox.
	OpenWithout func(t *testing.T) posgate.Store
	// Scheduled lists the notification ids whose deliveries the store's
	// outbox holds, committed, one entry per delivery.
	Scheduled func(t *testing.T, s posgate.Store) []string
}

// RunOutbox checks that scheduling a notification is part of the
// transaction: enqueued on commit, nothing on rollback, refused without
// an outbox.
func RunOutbox(t *testing.T, o Outbox) {
	t.Run("EnqueuedOnCommit", func(t *testing.T) {
		t.Parallel()
		s := o.Open(t)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		mid := seed(t, s)
		do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(notification(mid, "nt-1")) })
		require.Equal(t, []string{"nt-1"}, o.Scheduled(t, s))

		do(t, s, func(tx posgate.Tx) error { return tx.ScheduleNotification("nt-1") })
		require.Equal(t, []string{"nt-1", "nt-1"}, o.Scheduled(t, s), "a replay is one more delivery")

		err := try(t, s, func(tx posgate.Tx) error { return tx.ScheduleNotification("nt-missing") })
		require.ErrorIs(t, err, posgate.ErrNotFound)
		require.Len(t, o.Scheduled(t, s), 2)
	})
	t.Run("NothingOnRollback", func(t *testing.T) {
		t.Parallel()
		s := o.Open(t)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		mid := seed(t, s)
		errRollback := errors.New("roll back")
		err := try(t, s, func(tx posgate.Tx) error {
			if err := tx.InsertNotification(notification(mid, "nt-1")); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Empty(t, o.Scheduled(t, s))
		_, err = readNotification(t, s, "nt-1")
		require.ErrorIs(t, err, posgate.ErrNotFound)

		do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(notification(mid, "nt-2")) })
		err = try(t, s, func(tx posgate.Tx) error {
			if err := tx.ScheduleNotification("nt-2"); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Equal(t, []string{"nt-2"}, o.Scheduled(t, s), "the rolled-back replay left no delivery")
	})
	t.Run("ConcurrentCommitsAndRollbacks", func(t *testing.T) {
		// Transactions running at once may share one commit (the SQLite
		// store's group commit inserts the whole group's deliveries in
		// one statement): each committed notification has exactly one
		// delivery, each rolled-back one none.
		t.Parallel()
		s := o.Open(t)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		mid := seed(t, s)
		const n = 40
		errRollback := errors.New("roll back")
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.InTx(t.Context(), func(tx posgate.Tx) error {
					if err := tx.InsertNotification(notification(mid, fmt.Sprintf("nt-%02d", i))); err != nil {
						return err
					}
					if i%2 == 1 {
						return errRollback
					}
					return nil
				})
			})
		}
		wg.Wait()
		var want []string
		for i, err := range errs {
			if i%2 == 1 {
				require.ErrorIs(t, err, errRollback)
				continue
			}
			require.NoError(t, err)
			want = append(want, fmt.Sprintf("nt-%02d", i))
		}
		got := o.Scheduled(t, s)
		slices.Sort(got)
		require.Equal(t, want, got)
	})
	t.Run("RefusedWithoutOutbox", func(t *testing.T) {
		t.Parallel()
		s := o.OpenWithout(t)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		mid := seed(t, s)
		err := try(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(notification(mid, "nt-1")) })
		require.ErrorIs(t, err, posgate.ErrNoOutbox)
		_, err = readNotification(t, s, "nt-1")
		require.ErrorIs(t, err, posgate.ErrNotFound, "a notification that could never be sent is not stored")
	})
}
