package sqlite

import (
	"errors"

	"github.com/posgate/posgate"
)

var errTODO = errors.New("sqlite: not built yet")

func (t *tx) InsertRefund(r posgate.Refund) error                      { return errTODO }
func (t *tx) Refund(refundID string) (posgate.Refund, error)           { return posgate.Refund{}, errTODO }
func (t *tx) UpdateRefund(r posgate.Refund) error                      { return errTODO }
func (t *tx) RefundsForOrder(tradeID string) ([]posgate.Refund, error) { return nil, errTODO }
func (t *tx) RefundByMerchantRef(merchantID int64, mRefundID string) (posgate.Refund, error) {
	return posgate.Refund{}, errTODO
}
