package posgate

import "time"

// RefundState is a refund's state, as on the wire (YabandPay's refund
// states 20-26).
type RefundState string

const (
	RefundToBeApproved RefundState = "to-be-approval"    // 20: waiting for approval
	RefundPending      RefundState = "refund pending"    // 21: queued
	RefundProcessing   RefundState = "refund processing" // 22: sent to the acquirer
	RefundRefunded     RefundState = "refunded"          // 23: done
	RefundFailed       RefundState = "refund failed"     // 24: the acquirer refused; may be retried
	RefundError        RefundState = "refund error"      // 25: needs support
	RefundCancelled    RefundState = "refund cancel"     // 26: withdrawn before it was made
)

// Refund is a partial or full refund of a paid order, made cloud-side
// through the acquirer.
type Refund struct {
	RefundID    string // posgate's id, 8-4-4-4-12 hex like a trade_id
	TradeID     string
	MerchantID  int64
	User        string // who asked for it; its secret signs its notifications
	MRefundID   string // the merchant's own reference, unique per merchant when set
	Amount      int64  // minor units
	Currency    string
	Description string
	NotifyURL   string
	RequestID   string
	State       RefundState
	AcquirerRef string // the acquirer's reference once refunded
	Message     string // why it failed, for the caller
	CreatedAt   time.Time
	UpdatedAt   time.Time
	RefundedAt  *time.Time
	// Version increments on every update; updates compare and set it.
	Version int64
}
