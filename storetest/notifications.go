package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// notificationTests are the store behaviours of the notification outbox.
var notificationTests = []storeTest{
	{"NotificationRoundTrip", testNotificationRoundTrip},
	{"NotificationList", testNotificationList},
	{"UpdateNotification", testUpdateNotification},
}

func readNotification(t *testing.T, s posgate.Store, id string) (posgate.Notification, error) {
	return get(t, s, func(tx posgate.Tx) (posgate.Notification, error) { return tx.Notification(id) })
}

func testNotificationRoundTrip(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	n := notification(mid, "nt-1")
	n.RefundID = "rf-1"
	n.Payload["description"] = `a+b%20&"c" café`
	do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(n) })
	got, err := readNotification(t, s, "nt-1")
	require.NoError(t, err)
	require.Equal(t, n, got)

	_, err = readNotification(t, s, "nt-missing")
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testNotificationList(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	// nt-0 is oldest; nt-1 failed once, nt-2 failed then was delivered,
	// nt-3 was never tried.
	for i, mod := range []func(*posgate.Notification){
		func(n *posgate.Notification) {},
		func(n *posgate.Notification) { n.Attempts, n.LastError = 1, "HTTP 500" },
		func(n *posgate.Notification) { n.Attempts, n.LastError, n.DeliveredAt = 2, "", ptr(t0) },
		func(n *posgate.Notification) {},
	} {
		n := notification(mid, "nt-"+string(rune('0'+i)))
		n.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		mod(&n)
		do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(n) })
	}
	ids := func(failedOnly bool, limit int) []string {
		ns, err := get(t, s, func(tx posgate.Tx) ([]posgate.Notification, error) { return tx.Notifications(failedOnly, limit) })
		require.NoError(t, err)
		var out []string
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	require.Equal(t, []string{"nt-3", "nt-2", "nt-1", "nt-0"}, ids(false, 10), "newest first")
	require.Equal(t, []string{"nt-3", "nt-2"}, ids(false, 2))
	require.Equal(t, []string{"nt-1"}, ids(true, 10), "failed: not delivered, tried at least once")
}

func testUpdateNotification(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	n := notification(mid, "nt-1")
	do(t, s, func(tx posgate.Tx) error { return tx.InsertNotification(n) })

	n.Attempts, n.LastError, n.NextAttempt = 1, "HTTP 503", t0.Add(5*time.Second)
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateNotification(n) })
	got, err := readNotification(t, s, "nt-1")
	require.NoError(t, err)
	require.Equal(t, n, got)

	// Delivered: no next attempt, stored as the zero time.
	n.Attempts, n.LastError, n.DeliveredAt, n.NextAttempt = 2, "", ptr(t0.Add(time.Minute)), time.Time{}
	n.Payload = map[string]string{"ignored": "UpdateNotification writes only the attempt fields"}
	do(t, s, func(tx posgate.Tx) error { return tx.UpdateNotification(n) })
	got, err = readNotification(t, s, "nt-1")
	require.NoError(t, err)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, ptr(t0.Add(time.Minute)), got.DeliveredAt)
	require.True(t, got.NextAttempt.IsZero())
	require.Equal(t, notification(mid, "").Payload, got.Payload)

	err = try(t, s, func(tx posgate.Tx) error { return tx.UpdateNotification(notification(mid, "nt-missing")) })
	require.ErrorIs(t, err, posgate.ErrNotFound)
}
