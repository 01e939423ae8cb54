package posgate

import "time"

// Notification is one outbox event: a signed POST to NotifyURL. Payload is
// the data object (flat string fields).
type Notification struct {
	ID          string
	MerchantID  int64
	User        string // whose secret signs it
	TradeID     string
	RefundID    string // set for refund notifications
	NotifyURL   string
	Payload     map[string]string
	CreatedAt   time.Time
	Attempts    int
	DeliveredAt *time.Time
	LastError   string
	NextAttempt time.Time
}
