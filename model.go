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

// PrincipalKind tells what a `user` is.
type PrincipalKind string

const (
	KindTerminal PrincipalKind = "terminal"
	KindCashier  PrincipalKind = "cashier"
)

// Merchant owns terminals, cashiers and orders.
type Merchant struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Principal is anyone who can sign a request: a terminal (by TID) or a
// cashier (by UID). SealedSecret is the secret_key encrypted at rest.
type Principal struct {
	User         string
	Kind         PrincipalKind
	MerchantID   int64
	SealedSecret []byte
	CreatedAt    time.Time
}

// DefaultTimezone and DefaultCurrency apply when a terminal is added
// without them; DefaultCutoff is the daily batch cutoff in minutes after
// local midnight (00:30).
const (
	DefaultTimezone = "Europe/Amsterdam"
	DefaultCurrency = "EUR"
	DefaultCutoff   = 30
)

// Terminal is a POS device.
type Terminal struct {
	TID        string
	MerchantID int64
	Timezone   string // IANA name
	Currency   string // ISO 4217
	// CutoffMinutes is when, in minutes after local midnight, the previous
	// business day's batch is cleared automatically.
	CutoffMinutes int
	CreatedAt     time.Time
}

// Location loads the terminal's time zone.
func (t Terminal) Location() (*time.Location, error) { return time.LoadLocation(t.Timezone) }

// RefundAuthority says what a cashier's refunds do (YabandPay's manual:
// Immediately, Approved, Disable). posgate's default is immediate.
type RefundAuthority string

const (
	RefundImmediate RefundAuthority = "immediate" // effective at once
	RefundApproval  RefundAuthority = "approval"  // wait for an operator's approval
	RefundDisabled  RefundAuthority = "disabled"  // refunds refused
)

// Cashier is a merchant's back-office user.
type Cashier struct {
	UID             string
	MerchantID      int64
	RefundAuthority RefundAuthority // empty means RefundImmediate
	CreatedAt       time.Time
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
	// Version increments on every update; updates compare and set it.
	Version int64
}

// ReversalState of a reversal attempt.
type ReversalState string

const (
	ReversalInFlight ReversalState = "in_flight"
	ReversalApproved ReversalState = "approved"
	ReversalDeclined ReversalState = "declined"
)

// Reversal is one attempt to reverse an order on its terminal. The store
// allows at most one in flight or approved per order.
type Reversal struct {
	ID         string
	TradeID    string
	TID        string
	RequestID  string
	CommandID  string
	State      ReversalState
	Reason     string // terminal's message when declined
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// CommandKind names what a terminal is asked to do.
type CommandKind string

const (
	CommandSale          CommandKind = "sale"
	CommandAuthorisation CommandKind = "authorisation"
	CommandReversal      CommandKind = "reversal"
)

// CommandState: a command is in flight from its creation until its one
// final result is applied (done) or the cloud gives up on it (abandoned).
type CommandState string

const (
	CommandInFlight  CommandState = "in_flight"
	CommandDone      CommandState = "done"
	CommandAbandoned CommandState = "abandoned"
)

// Outcome is a command's final result as the terminal reports it.
type Outcome string

const (
	OutcomeApproved  Outcome = "approved"
	OutcomeDeclined  Outcome = "declined"
	OutcomeFailed    Outcome = "failed"
	OutcomeCancelled Outcome = "cancelled" // aborted by the cloud or the operator
	OutcomeExpired   Outcome = "expired"   // no card presented in time
)

// Command is an instruction to a terminal, persisted before it is sent.
// The store allows at most one in flight per terminal.
type Command struct {
	ID        string
	TID       string
	Kind      CommandKind
	TradeID   string
	State     CommandState
	CreatedAt time.Time
	// Result fields, set when State is done.
	Outcome       Outcome
	TransactionID string
	Message       string
	FinishedAt    *time.Time
}

// CommandEvent is a progress step the terminal reported (received, on
// screen, waiting for card, authorising, approved...).
type CommandEvent struct {
	CommandID string
	Stage     string
	Message   string
	At        time.Time
}

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
