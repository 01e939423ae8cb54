package posgate

import (
	"fmt"
	"time"
)

// Visible reports whether p may see order o at all. Another merchant's
// order does not exist for the caller; a terminal sees only its own orders
// for queries, but may learn that a sibling terminal's order exists (the
// reversal rules answer that with ErrNotCancellable).
func Visible(o Order, p Principal) bool { return o.MerchantID == p.MerchantID }

// BusinessDate is the calendar day of t in loc, as YYYY-MM-DD.
func BusinessDate(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// CheckReversal decides whether terminal tid may reverse o now, in the
// contract's order: cancelled, expired, not reversible (state, refunds,
// another terminal, a reversal in flight), cleared, outside the business
// day. loc is the order's terminal's time zone. Unknown orders are the
// caller's concern (ErrTradeNotFound before this is called).
func CheckReversal(o Order, tid string, reversalInFlight bool, loc *time.Location, now time.Time) error {
	switch o.State {
	case StateCancelled:
		return Refuse(ErrAlreadyCancelled, "The transaction has been cancelled")
	case StateExpired:
		return Refuse(ErrExpired, "The transaction has been Expired")
	}
	if o.State != StatePaid && o.State != StateAuthorized {
		return Refuse(ErrNotCancellable, fmt.Sprintf("The transaction cannot be cancelled: it is %s, only paid or authorized orders can be reversed", o.State))
	}
	if o.RefundCount > 0 || o.RefundedAmount > 0 {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it has been refunded in part or whole")
	}
	if o.TID != tid {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it was made on another terminal")
	}
	if reversalInFlight {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: another reversal of it is in flight")
	}
	if o.ClearedAt != nil {
		return Refuse(ErrCleared, "The transaction has been cleared cannot be cancelled; use v3.CreateRefund")
	}
	if BusinessDate(now, loc) != o.BusinessDate {
		return Refuse(ErrCancelWindow, "Exceed cancel window: only orders of the terminal's current business day can be reversed; use v3.CreateRefund")
	}
	return nil
}

// CheckPOSCancel decides whether an order still waiting on its terminal may
// be cancelled there.
func CheckPOSCancel(o Order, tid string) error {
	switch o.State {
	case StateCancelled:
		return Refuse(ErrAlreadyCancelled, "The transaction has been cancelled")
	case StateExpired:
		return Refuse(ErrExpired, "The transaction has been Expired")
	case StatePaid, StateAuthorized:
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it is already "+string(o.State)+"; use v3.POSReversal (same day) or v3.CreateRefund")
	case StatePending, StateProcessing:
	default:
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it is "+string(o.State))
	}
	if o.TID != tid {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it was made on another terminal")
	}
	return nil
}

// CancelPaymentDeadline is the end of the silent-cancel window: 00:30 on
// the day after the order's business day, in the terminal's time zone.
func CancelPaymentDeadline(o Order, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, o.BusinessDate, loc)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 30, 0, 0, loc), nil
}

// CheckCancelPayment decides whether o may be cancelled silently (no
// terminal involved): unpaid, paid or authorized, never after a refund,
// not once cleared, until 00:30 of the next local day.
func CheckCancelPayment(o Order, reversalInFlight bool, loc *time.Location, now time.Time) error {
	switch o.State {
	case StateCancelled:
		return Refuse(ErrAlreadyCancelled, "The transaction has been cancelled")
	case StateExpired:
		return Refuse(ErrExpired, "The transaction has been Expired")
	case StatePending, StateProcessing, StatePaid, StateAuthorized:
	default:
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it is "+string(o.State))
	}
	if o.RefundCount > 0 || o.RefundedAmount > 0 {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: it has been refunded in part or whole")
	}
	if reversalInFlight {
		return Refuse(ErrNotCancellable, "The transaction cannot be cancelled: a reversal of it is in flight")
	}
	if o.ClearedAt != nil {
		return Refuse(ErrCleared, "The transaction has been cleared cannot be cancelled; use v3.CreateRefund")
	}
	deadline, err := CancelPaymentDeadline(o, loc)
	if err != nil {
		return err
	}
	if !now.Before(deadline) {
		return Refuse(ErrCancelWindow, "Exceed cancel window: silent cancel is possible until 00:30 of the next day in the terminal's time zone")
	}
	return nil
}

// SaleOutcome is the order after the terminal's final result for its sale
// or authorisation command. changed is false when the order had already
// left processing (a late result: the caller records it, the order keeps
// its state).
func SaleOutcome(o Order, op Operation, out Outcome, transactionID string, receipt Receipt, now time.Time) (next Order, changed bool) {
	if o.State != StateProcessing && o.State != StatePending {
		return o, false
	}
	switch out {
	case OutcomeApproved:
		o.State = StatePaid
		if op == OpAuthorisation {
			o.State = StateAuthorized
		}
		o.TransactionID, o.Receipt = transactionID, receipt
		t := now
		o.PaidAt = &t
	case OutcomeDeclined:
		o.State = StateDeclined
	case OutcomeCancelled:
		o.State = StateCancelled
	case OutcomeExpired:
		o.State = StateExpired
	default:
		o.State = StateFailed
	}
	o.UpdatedAt = now
	return o, true
}

// LateApproval is the order after its terminal approved it once the
// merchant had been told it was not paid (the cloud expired it, or a
// silent cancel abandoned its command): the order keeps its state, records
// the approval's transaction id and receipt data (the card an operator
// must refund should the reversal fail) and is marked for the reversal
// that gives the money back. changed is false when the order is not in such a state
// or its late approval was handled already.
func LateApproval(o Order, transactionID string, receipt Receipt, now time.Time) (next Order, changed bool) {
	if o.Reconciliation != "" {
		return o, false
	}
	switch o.State {
	case StateExpired, StateCancelled, StateFailed, StateDeclined:
	default:
		return o, false
	}
	o.Reconciliation = LateApprovalReversing
	o.TransactionID, o.Receipt = transactionID, receipt
	o.UpdatedAt = now
	return o, true
}

// LateReversalOutcome is the order after the terminal's result for the
// reversal of a late approval.
func LateReversalOutcome(o Order, out Outcome, now time.Time) (next Order, changed bool) {
	if o.Reconciliation != LateApprovalReversing {
		return o, false
	}
	o.Reconciliation = LateApprovalNotReversed
	if out == OutcomeApproved {
		o.Reconciliation = LateApprovalReversed
	}
	o.UpdatedAt = now
	return o, true
}

// ReversalOutcome is the order after the terminal's final result for a
// reversal: approved cancels it, anything else leaves it as it was.
func ReversalOutcome(o Order, out Outcome, now time.Time) (next Order, changed bool) {
	if out != OutcomeApproved || (o.State != StatePaid && o.State != StateAuthorized) {
		return o, false
	}
	o.State = StateCancelled
	o.UpdatedAt = now
	return o, true
}

// ClearThrough is the last business date whose batch the automatic daily
// cutoff has closed at now: yesterday once the cutoff (minutes after local
// midnight) has passed today, otherwise the day before yesterday.
func ClearThrough(now time.Time, loc *time.Location, cutoffMinutes int) string {
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	cutoff := midnight.Add(time.Duration(cutoffMinutes) * time.Minute)
	days := -2
	if !local.Before(cutoff) {
		days = -1
	}
	return midnight.AddDate(0, 0, days).Format(time.DateOnly)
}
