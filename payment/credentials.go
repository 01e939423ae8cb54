package payment

import (
	"context"
	"fmt"
	"sync"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/vault"
)

// Credentials opens principals' secrets: the API checks signatures with
// them, the terminal link hellos, and the notification outbox signs with
// them. Principals never change, so opened ones are cached.
type Credentials struct {
	store  posgate.Store
	sealer *vault.Sealer
	cache  sync.Map // user -> Caller
}

// NewCredentials reads principals from store and opens them with sealer.
func NewCredentials(store posgate.Store, sealer *vault.Sealer) *Credentials {
	return &Credentials{store: store, sealer: sealer}
}

// Caller is an authenticated principal with its opened secret.
type Caller struct {
	posgate.Principal
	Secret string
}

// Authenticate finds user and opens its secret. Unknown users are
// posgate.ErrNotFound. Principals never change, so they are cached.
func (s *Credentials) Authenticate(ctx context.Context, user string) (Caller, error) {
	if c, ok := s.cache.Load(user); ok {
		return c.(Caller), nil
	}
	var p posgate.Principal
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		p, err = tx.Principal(user)
		return err
	})
	if err != nil {
		return Caller{}, err
	}
	secret, err := s.sealer.Open(p.SealedSecret, []byte(p.User))
	if err != nil {
		return Caller{}, fmt.Errorf("open secret of %s: %w", user, err)
	}
	c := Caller{Principal: p, Secret: string(secret)}
	s.cache.Store(user, c)
	return c, nil
}

// Secret is user's secret_key, which signs its notifications.
func (s *Credentials) Secret(ctx context.Context, user string) (string, error) {
	c, err := s.Authenticate(ctx, user)
	return c.Secret, err
}
