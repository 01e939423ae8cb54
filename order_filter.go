package posgate

import "time"

// OrderFilter selects orders for operators. Zero fields do not filter.
type OrderFilter struct {
	TID     string
	State   State
	OrderID string // the merchant's order number
	// From and To bound CreatedAt: From <= CreatedAt < To.
	From, To time.Time
	// Limit is how many orders at most, newest first (required, above 0).
	Limit int
}
