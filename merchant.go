package posgate

import "time"

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
