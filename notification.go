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

// DueNotification is a notification whose delivery is due, and the
// attempts it had before its current schedule began: an operator's replay
// starts the retry schedule again while Attempts counts on.
type DueNotification struct {
	Notification Notification
	Before       int
}
