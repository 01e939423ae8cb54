package payment

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"

	"github.com/posgate/posgate"
)

// AddOperator adds an operator and returns their secret, generated here
// and never stored: only its SHA-256 is. An existing name is
// posgate.ErrDuplicate.
func (s *Service) AddOperator(ctx context.Context, name string) (string, error) {
	if err := posgate.CheckOperatorName(name); err != nil {
		return "", err
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	secret := "pgo_" + hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(secret))
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		return tx.InsertOperator(posgate.Operator{Name: name, SecretSHA256: sum[:], CreatedAt: s.now()})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Operators lists the operators by name.
func (s *Service) Operators(ctx context.Context) ([]posgate.Operator, error) {
	var out []posgate.Operator
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		out, err = tx.Operators()
		return err
	})
	return out, err
}

// RemoveOperator removes an operator: their credential stops working at
// once, console sessions included; their actions stay in the audit.
func (s *Service) RemoveOperator(ctx context.Context, name string) error {
	return s.store.InTx(ctx, func(tx posgate.Tx) error { return tx.DeleteOperator(name) })
}

// dummyOperatorHash is compared against when the name is unknown, so an
// unknown name costs what a wrong secret does.
var dummyOperatorHash = sha256.Sum256([]byte("no such operator"))

// CheckOperator reports whether secret is the named operator's, comparing
// hashes in constant time. An unknown name is false, like a wrong secret.
func (s *Service) CheckOperator(ctx context.Context, name, secret string) (bool, error) {
	var want []byte
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		o, err := tx.Operator(name)
		want = o.SecretSHA256
		return err
	})
	unknown := errors.Is(err, posgate.ErrNotFound)
	if err != nil && !unknown {
		return false, err
	}
	if unknown {
		want = dummyOperatorHash[:]
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], want) == 1 && !unknown, nil
}

// OperatorExists reports whether the named operator is still there (a
// console session outlives nothing it was opened for).
func (s *Service) OperatorExists(ctx context.Context, name string) (bool, error) {
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		_, err := tx.Operator(name)
		return err
	})
	if errors.Is(err, posgate.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// audit records what operator by did, in tx: the transaction of the
// change itself, so the change and its record commit together.
func (s *Service) audit(tx posgate.Tx, by string, action posgate.Action, tradeID, subject, detail string) error {
	return tx.InsertOperatorAction(posgate.OperatorAction{ID: newID(), At: s.now(), Operator: by, Action: action,
		TradeID: tradeID, Subject: subject, Detail: detail})
}
