package payment

import (
	"context"

	"github.com/posgate/posgate"
)

// RefundsAwaitingApproval lists the refunds an operator must approve or
// reject, oldest first, at most limit.
func (s *Service) RefundsAwaitingApproval(ctx context.Context, limit int) ([]posgate.Refund, error) {
	var out []posgate.Refund
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		out, err = tx.RefundsInState(posgate.RefundToBeApproved, limit)
		return err
	})
	return out, err
}
