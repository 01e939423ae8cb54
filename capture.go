package posgate

import (
	"fmt"
	"time"
)

// AuthorisationValidity is how long a pre-authorisation can be captured:
// YabandPay's "the capture must be processed within 30 days; otherwise,
// the pre-authorization will automatically expire".
const AuthorisationValidity = 30 * 24 * time.Hour

// AuthorisationExpiry is when an authorized order stops being capturable:
// AuthorisationValidity after the terminal's approval.
func AuthorisationExpiry(o Order) time.Time {
	at := o.CreatedAt
	if o.PaidAt != nil {
		at = *o.PaidAt
	}
	return at.Add(AuthorisationValidity)
}

// CaptureState is a capture's state.
type CaptureState string

const (
	CaptureProcessing CaptureState = "processing" // sent to the acquirer
	CaptureCaptured   CaptureState = "captured"   // the acquirer took the money
	CaptureFailed     CaptureState = "failed"     // the acquirer refused; nothing moved
	CaptureError      CaptureState = "error"      // no clear answer: it may have been made
)

// Capture is the one completion of a pre-authorisation, made cloud-side
// through the acquirer. Failed captures may pile up; the store allows one
// capture per order in any other state.
type Capture struct {
	CaptureID  string // 8-4-4-4-12 hex, the acquirer's idempotency key
	TradeID    string
	MerchantID int64
	User       string // who asked; its secret signs the capture's notification
	RequestID  string
	Amount     int64 // minor units, at most AuthorisedAmount
	// AuthorisedAmount is the order's authorised amount when the capture
	// was asked for (after any decrements).
	AuthorisedAmount int64
	Currency         string
	Description      string
	NotifyURL        string
	State            CaptureState
	AcquirerRef      string
	Message          string
	CreatedAt        time.Time
	FinishedAt       *time.Time
}

// CheckAuthorisation decides whether the pre-authorisation o can still be
// changed (captured or decremented) now, in the order the contract checks
// reversals: cancelled, expired, then its state. busy says why another
// operation on it must finish first ("" when none).
func CheckAuthorisation(o Order, busy string, now time.Time) error {
	switch o.State {
	case StateCancelled:
		return Refuse(ErrAlreadyCancelled, "The transaction has been cancelled")
	case StateExpired:
		return Refuse(ErrExpired, "The transaction has been Expired")
	case StateAuthorized:
	case StatePaid:
		if o.Operation == OpAuthorisation {
			return Refuse(ErrAlreadyCaptured, "Capture not allowed: the authorisation has been captured already; each authorisation allows one capture")
		}
		fallthrough
	default:
		return Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Capture not allowed: the transaction is %s; only authorized orders (v3.POS operation 2) can be captured or decremented", o.State))
	}
	if !now.Before(AuthorisationExpiry(o)) {
		return Refuse(ErrExpired, "The transaction has been Expired: a pre-authorisation must be captured within 30 days")
	}
	if busy != "" {
		return Refuse(ErrCaptureNotAllowed, "Capture not allowed: "+busy)
	}
	return nil
}

// CheckCapture decides whether amount (minor units, in currency) may be
// captured from o now: at most the authorised amount, in its currency, not
// below the currency's minimum nor the tip the amount includes.
func CheckCapture(o Order, amount int64, currency, busy string, now time.Time) error {
	if err := CheckAuthorisation(o, busy, now); err != nil {
		return err
	}
	cur, err := orderCurrency(o, currency)
	if err != nil {
		return err
	}
	if amount > o.Amount {
		return Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Capture not allowed: amount exceeds the authorised amount of %s %s", FormatAmount(o.Amount, cur), o.Currency))
	}
	return checkFloor(amount, o, cur, "amount")
}

// CheckDecrement decides whether the authorised amount of o may be lowered
// by reduction now: what remains must stay at or above the currency's
// minimum (so never zero; v3.CancelPayment releases an authorisation
// whole) and the tip it includes.
func CheckDecrement(o Order, reduction int64, currency, busy string, now time.Time) error {
	if err := CheckAuthorisation(o, busy, now); err != nil {
		return err
	}
	cur, err := orderCurrency(o, currency)
	if err != nil {
		return err
	}
	if reduction <= 0 {
		return Refuse(ErrCaptureNotAllowed, "Decrement not allowed: amount, the reduction, must be above zero")
	}
	if reduction >= o.Amount {
		return Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Decrement not allowed: the reduction must leave part of the authorised %s %s; release it whole with v3.CancelPayment",
			FormatAmount(o.Amount, cur), o.Currency))
	}
	return checkFloor(o.Amount-reduction, o, cur, "the remaining authorised amount")
}

func orderCurrency(o Order, currency string) (Currency, error) {
	cur, ok := LookupCurrency(o.Currency)
	if !ok {
		return Currency{}, fmt.Errorf("order %s has unknown currency %q", o.TradeID, o.Currency)
	}
	if currency != o.Currency {
		return cur, Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Capture not allowed: currency %s must be the currency of the authorisation, %s", currency, o.Currency))
	}
	return cur, nil
}

func checkFloor(amount int64, o Order, cur Currency, what string) error {
	if amount < cur.Min {
		return Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Capture not allowed: %s must be at least %s %s", what, FormatAmount(cur.Min, cur), cur.Code))
	}
	if amount < o.TipAmount {
		return Refuse(ErrCaptureNotAllowed, fmt.Sprintf("Capture not allowed: %s must not be below the tip_amount of %s %s it includes", what, FormatAmount(o.TipAmount, cur), cur.Code))
	}
	return nil
}

// CaptureOutcome is the capture and its order after the acquirer's
// answer. Captured makes the order paid for the captured amount (refunds
// then apply to that amount), paid at the capture; failed and error leave
// the order authorized. changed is false when the capture had already
// left processing.
func CaptureOutcome(c Capture, o Order, next CaptureState, acquirerRef, msg string, now time.Time) (Capture, Order, bool) {
	if c.State != CaptureProcessing || next == CaptureProcessing {
		return c, o, false
	}
	t := now
	c.State, c.AcquirerRef, c.Message, c.FinishedAt = next, acquirerRef, msg, &t
	if next == CaptureCaptured && o.State == StateAuthorized {
		o.State, o.Amount, o.PaidAt, o.UpdatedAt = StatePaid, c.Amount, &t, now
	}
	return c, o, true
}

// ExpireAuthorisation is o after its 30 days passed uncaptured; changed is
// false when it is no longer an authorisation that has expired.
func ExpireAuthorisation(o Order, now time.Time) (Order, bool) {
	if o.State != StateAuthorized || now.Before(AuthorisationExpiry(o)) {
		return o, false
	}
	o.State, o.UpdatedAt = StateExpired, now
	return o, true
}

// DecrementState is a decrement's state.
type DecrementState string

const (
	DecrementProcessing  DecrementState = "processing"  // sent to the acquirer; the reduction is off the order already
	DecrementDecremented DecrementState = "decremented" // the acquirer lowered the authorisation
	DecrementFailed      DecrementState = "failed"      // the acquirer refused; the reduction was given back
	DecrementError       DecrementState = "error"       // no clear answer: the reduction stays off (capturing less than is held is safe)
)

// Decrement is one lowering of a pre-authorisation (v3.PreauthDecrement),
// made cloud-side through the acquirer. The store keeps After = Before -
// Amount, both above zero; the rules keep After at or above the
// currency's minimum.
type Decrement struct {
	DecrementID string // 8-4-4-4-12 hex, the acquirer's idempotency key
	TradeID     string
	MerchantID  int64
	User        string // who asked
	RequestID   string
	Amount      int64 // the reduction, minor units
	Before      int64 // the authorised amount before it
	After       int64 // and after it
	Currency    string
	Description string
	NotifyURL   string // the requester's, notified with the order
	State       DecrementState
	AcquirerRef string
	Message     string
	CreatedAt   time.Time
	FinishedAt  *time.Time
}

// DecrementOutcome is the decrement and its order after the acquirer's
// answer: failed gives the reduction back to an order still authorized;
// decremented and error keep it off. changed is false when the decrement
// had already left processing.
func DecrementOutcome(d Decrement, o Order, next DecrementState, acquirerRef, msg string, now time.Time) (Decrement, Order, bool) {
	if d.State != DecrementProcessing || next == DecrementProcessing {
		return d, o, false
	}
	t := now
	d.State, d.AcquirerRef, d.Message, d.FinishedAt = next, acquirerRef, msg, &t
	if next == DecrementFailed && o.State == StateAuthorized {
		o.Amount += d.Amount
		o.UpdatedAt = now
	}
	return d, o, true
}
