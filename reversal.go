package posgate

import "time"

// ReversalState of a reversal attempt.
type ReversalState string

const (
	ReversalInFlight ReversalState = "in_flight"
	ReversalApproved ReversalState = "approved"
	ReversalDeclined ReversalState = "declined"
)

// ReversalOrigin says who asked for a reversal.
type ReversalOrigin string

const (
	ReversalByAPI          ReversalOrigin = "api"           // v3.POSReversal
	ReversalOfLateApproval ReversalOrigin = "late_approval" // the gateway, for an approval that came too late
)

// ReversalContext is what the reversal and cancel rules read, in one
// read (Tx.OrderForReversal): the order, its terminal, whether a
// reversal of it is in flight or approved, and the caller's earlier
// request with the request id asked for (nil: none).
type ReversalContext struct {
	Order    Order
	Terminal Terminal
	InFlight bool
	Request  *RequestRecord
}

// Reversal is one attempt to reverse an order on its terminal. The store
// allows at most one in flight or approved per order.
type Reversal struct {
	ID         string
	TradeID    string
	TID        string
	RequestID  string
	CommandID  string
	State      ReversalState
	Origin     ReversalOrigin
	Reason     string // terminal's message when declined
	CreatedAt  time.Time
	FinishedAt *time.Time
}
