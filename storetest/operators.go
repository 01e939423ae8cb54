package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// operatorTests are the operators of the console and operator API, and
// the audit of their actions.
var operatorTests = []storeTest{
	{"Operators", testOperators},
	{"OperatorActions", testOperatorActions},
}

func testOperators(t *testing.T, s posgate.Store) {
	bob := posgate.Operator{Name: "bob", SecretSHA256: bytes.Repeat([]byte{2}, 32), CreatedAt: t0}
	alice := posgate.Operator{Name: "alice", SecretSHA256: bytes.Repeat([]byte{1}, 32), CreatedAt: t0.Add(time.Second)}
	do(t, s, func(tx posgate.Tx) error {
		if err := tx.InsertOperator(bob); err != nil {
			return err
		}
		return tx.InsertOperator(alice)
	})
	err := s.InTx(t.Context(), func(tx posgate.Tx) error {
		return tx.InsertOperator(posgate.Operator{Name: "bob", SecretSHA256: bytes.Repeat([]byte{3}, 32), CreatedAt: t0})
	})
	require.ErrorIs(t, err, posgate.ErrDuplicate)
	err = s.InTx(t.Context(), func(tx posgate.Tx) error {
		return tx.InsertOperator(posgate.Operator{Name: "carol", SecretSHA256: []byte("short"), CreatedAt: t0})
	})
	require.Error(t, err, "a hash is 32 bytes")

	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		got, err := tx.Operator("bob")
		require.NoError(t, err)
		require.Equal(t, bob, got)
		all, err := tx.Operators()
		require.NoError(t, err)
		require.Equal(t, []posgate.Operator{alice, bob}, all, "by name")
		_, err = tx.Operator("carol")
		require.ErrorIs(t, err, posgate.ErrNotFound)
		return nil
	}))
	do(t, s, func(tx posgate.Tx) error { return tx.DeleteOperator("bob") })
	err = s.InTx(t.Context(), func(tx posgate.Tx) error { return tx.DeleteOperator("bob") })
	require.ErrorIs(t, err, posgate.ErrNotFound)
	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		_, err := tx.Operator("bob")
		require.ErrorIs(t, err, posgate.ErrNotFound)
		return nil
	}))
}

func testOperatorActions(t *testing.T, s posgate.Store) {
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	actions := []posgate.OperatorAction{
		{ID: "a-3", At: sec(2), Operator: "alice", Action: posgate.ActionRefundReject, TradeID: "tr-1", Subject: "rf-2", Detail: "duplicate"},
		{ID: "a-1", At: sec(1), Operator: "admin", Action: posgate.ActionRefundApprove, TradeID: "tr-1", Subject: "rf-1"},
		{ID: "a-2", At: sec(1), Operator: "bob", Action: posgate.ActionNotificationReplay, TradeID: "tr-1", Subject: "nt-1"},
		{ID: "a-9", At: sec(0), Operator: "bob", Action: posgate.ActionNotificationReplay, TradeID: "tr-2", Subject: "nt-9"},
	}
	do(t, s, func(tx posgate.Tx) error {
		for _, a := range actions {
			if err := tx.InsertOperatorAction(a); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.InTx(t.Context(), func(tx posgate.Tx) error { return tx.InsertOperatorAction(actions[0]) })
	require.ErrorIs(t, err, posgate.ErrDuplicate)
	require.NoError(t, s.Read(t.Context(), func(tx posgate.Tx) error {
		got, err := tx.OperatorActionsForTrade("tr-1")
		require.NoError(t, err)
		require.Equal(t, []posgate.OperatorAction{actions[1], actions[2], actions[0]}, got, "oldest first, equal times as recorded")
		none, err := tx.OperatorActionsForTrade("tr-0")
		require.NoError(t, err)
		require.Empty(t, none)
		return nil
	}))
}
