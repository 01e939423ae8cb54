package posgate

import (
	"fmt"
	"time"
)

// MaxRefunds is YabandPay's limit: "Partial refund for one order should be
// less than 30 times", so an order takes at most MaxRefunds-1 refunds.
const MaxRefunds = 30

// RefundWindow is how long after payment an order can be refunded:
// YabandPay refuses transactions "completed more than one year prior".
func RefundWindow(paidAt time.Time) time.Time { return paidAt.AddDate(1, 0, 0) }

// CheckRefund decides whether amount (minor units, in currency) may be
// refunded from o now. o.RefundedAmount and o.RefundCount hold the refunds
// so far that still count (not failed, not cancelled); reversalInFlight
// says a reversal of o is on its terminal, whose approval would return
// the whole amount: a refund beside it would pay back twice (CheckReversal
// refuses the other way round). The store's check constraint repeats the
// remainder rule, so concurrent refunds that each pass here still cannot
// exceed the amount together.
func CheckRefund(o Order, amount int64, currency string, reversalInFlight bool, now time.Time) error {
	if o.State == StatePaid && reversalInFlight {
		return Refuse(ErrRefundNotAllowed, "Refund not allowed: a reversal of this transaction is in flight on its terminal; its outcome decides")
	}
	if o.State != StatePaid {
		hint := ""
		if o.State == StateAuthorized {
			hint = "; capture a pre-authorisation with v3.Capture, or release it with v3.CancelPayment"
		}
		return Refuse(ErrRefundNotAllowed, fmt.Sprintf("Refund not allowed: the transaction is %s, only paid orders can be refunded%s", o.State, hint))
	}
	if currency != o.Currency {
		return Refuse(ErrRefundNotAllowed, fmt.Sprintf("Refund not allowed: refund_currency %s must be the currency of the original transaction, %s", currency, o.Currency))
	}
	if amount <= 0 {
		return Refuse(ErrRefundNotAllowed, "Refund not allowed: refund_amount must be above zero")
	}
	if remainder := o.Amount - o.RefundedAmount; amount > remainder {
		cur, _ := LookupCurrency(o.Currency)
		return Refuse(ErrRefundNotAllowed, fmt.Sprintf("Refund not allowed: refund_amount exceeds the remainder of %s %s; the total refund amount cannot exceed the original payment amount",
			FormatAmount(remainder, cur), o.Currency))
	}
	if o.RefundCount >= MaxRefunds-1 {
		return Refuse(ErrRefundNotAllowed, fmt.Sprintf("Refund not allowed: partial refunds for one order must be less than %d times", MaxRefunds))
	}
	paid := o.CreatedAt
	if o.PaidAt != nil {
		paid = *o.PaidAt
	}
	if now.After(RefundWindow(paid)) {
		return Refuse(ErrRefundNotAllowed, "Refund not allowed: the transaction was completed more than one year ago")
	}
	return nil
}

// RefundOutcome is the refund and its order after the acquirer's answer
// (or after an operator withdrew it): refunds that moved no money and
// never will (failed, cancelled) give their amount and their place among
// the 30 back to the order. changed is false when the refund had already
// left the state the outcome applies to.
func RefundOutcome(r Refund, o Order, next RefundState, acquirerRef, msg string, now time.Time) (Refund, Order, bool) {
	switch {
	case r.State == RefundProcessing && (next == RefundRefunded || next == RefundFailed || next == RefundError):
	case r.State == RefundToBeApproved && (next == RefundProcessing || next == RefundCancelled):
	default:
		return r, o, false
	}
	r.State, r.Message, r.UpdatedAt = next, msg, now
	if next == RefundRefunded {
		r.AcquirerRef = acquirerRef
		t := now
		r.RefundedAt = &t
	}
	if next == RefundFailed || next == RefundCancelled {
		o.RefundedAmount -= r.Amount
		o.RefundCount--
		o.UpdatedAt = now
	}
	return r, o, true
}
