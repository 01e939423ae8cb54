package payment

import (
	"context"

	"github.com/posgate/posgate"
)

// Orders lists orders for operators, newest first; f.Limit is capped at
// MaxOrders (and defaults to it).
func (s *Service) Orders(ctx context.Context, f posgate.OrderFilter) ([]posgate.Order, error) {
	if f.Limit <= 0 || f.Limit > MaxOrders {
		f.Limit = MaxOrders
	}
	var out []posgate.Order
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		out, err = tx.Orders(f)
		return err
	})
	return out, err
}

// MaxOrders bounds one listing of orders.
const MaxOrders = 1000
