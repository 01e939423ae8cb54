package posgate

import "time"

// State is an order state, lowercase as on the wire.
type State string

const (
	StatePending    State = "pending"
	StateProcessing State = "processing"
	StatePaid       State = "paid"
	StateAuthorized State = "authorized"
	StateDeclined   State = "declined"
	StateFailed     State = "failed"
	StateExpired    State = "expired"
	StateCancelled  State = "cancelled"
)

// Final reports whether no further transition can come from the terminal.
func (s State) Final() bool {
	switch s {
	case StateDeclined, StateFailed, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Operation of a POS order.
type Operation int

const (
	OpSale          Operation = 1
	OpAuthorisation Operation = 2
)

// Order is a payment started on a terminal.
type Order struct {
	TradeID      string
	MerchantID   int64
	TID          string // terminal the order was made on
	User         string // who created it (the TID for POS orders)
	OrderID      string // merchant's order number
	Operation    Operation
	Amount       int64 // minor units
	TipAmount    int64 // minor units, included in Amount
	Currency     string
	Description  string
	Demo         string
	NotifyURL    string
	PayMethod    string
	SubPayMethod string
	State        State
	// TransactionID is the acquirer's reference, set when paid.
	TransactionID string
	// Receipt is the card data of the terminal's approval.
	Receipt Receipt
	// RefundedAmount and RefundCount sum the order's refunds that are not
	// failed; the store guarantees RefundedAmount <= Amount.
	RefundedAmount int64
	RefundCount    int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PaidAt         *time.Time
	// BusinessDate is the calendar day (YYYY-MM-DD) of CreatedAt in the
	// terminal's time zone.
	BusinessDate string
	// ClearedAt is set when the terminal's batch holding the order closed.
	ClearedAt *time.Time
	// ExpiresAt is when a still-unpaid order expires.
	ExpiresAt time.Time
	// Reconciliation is set when the terminal approved the order after the
	// merchant was told it failed, expired or was cancelled: the approval
	// is reversed on the terminal automatically (docs/api.md, "Late
	// approvals").
	Reconciliation Reconciliation
	// Version increments on every update; updates compare and set it.
	Version int64
}

// Reconciliation is what happened to an approval that came too late.
type Reconciliation string

const (
	// LateApprovalReversing: the terminal approved after the order was
	// settled as not paid; a reversal of that approval is on its way to
	// the terminal.
	LateApprovalReversing Reconciliation = "late_approval_reversing"
	// LateApprovalReversed: the terminal confirmed the reversal; the
	// customer's money is returned.
	LateApprovalReversed Reconciliation = "late_approval_reversed"
	// LateApprovalNotReversed: the terminal declined the reversal; the
	// customer was charged for an order the merchant was told failed, and
	// an operator must refund it.
	LateApprovalNotReversed Reconciliation = "late_approval_not_reversed"
)

// RequestRecord remembers an accepted request_id for ever, scoped to the
// user, with a fingerprint of the method and data so an exact repeat can
// be told from a clash.
type RequestRecord struct {
	User        string
	RequestID   string
	Method      string
	Fingerprint string
	TradeID     string
	CreatedAt   time.Time
}
