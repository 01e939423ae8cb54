package storetest

import (
	"testing"

	"github.com/posgate/posgate"
	"github.com/stretchr/testify/require"
)

// readTests are the store behaviours of read-only transactions.
var readTests = []storeTest{
	{"ReadSeesCommits", testReadSeesCommits},
	{"ReadRefusesWrites", testReadRefusesWrites},
}

func testReadSeesCommits(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	insertOrders(t, s, order(mid, "T1", "tr-read"))
	var got posgate.Order
	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		var err error
		got, err = tx.Order("tr-read")
		return err
	}))
	require.Equal(t, readOrder(t, s, "tr-read"), got)
	err := s.Read(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.Order("tr-none")
		return err
	})
	require.ErrorIs(t, err, posgate.ErrNotFound)
}

func testReadRefusesWrites(t *testing.T, s posgate.Store) {
	mid := seed(t, s)
	err := s.Read(t.Context(), func(tx posgate.Tx) error { return tx.InsertOrder(order(mid, "T1", "tr-sneaky")) })
	require.Error(t, err)
	err = s.Read(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.Order("tr-sneaky")
		return err
	})
	require.ErrorIs(t, err, posgate.ErrNotFound, "nothing was written")
}
