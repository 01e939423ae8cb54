package posgate_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

var paidAt = time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC)

func paidOrder() posgate.Order {
	return posgate.Order{TradeID: "tr-1", Amount: 1250, Currency: "EUR", State: posgate.StatePaid,
		CreatedAt: paidAt.Add(-time.Minute), PaidAt: &paidAt}
}

func TestCheckRefund(t *testing.T) {
	now := paidAt.Add(24 * time.Hour)
	cases := []struct {
		name   string
		order  func(o *posgate.Order)
		amount int64
		cur    string
		now    time.Time
		rev    bool   // a reversal in flight
		refuse string // part of the message; empty: allowed
	}{
		{name: "reversal in flight", amount: 100, rev: true, refuse: "reversal of this transaction is in flight"},
		{name: "full", amount: 1250},
		{name: "partial", amount: 1},
		{name: "rest of a partly refunded order", order: func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 1000, 3 }, amount: 250},
		{name: "over the rest", order: func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 1000, 3 }, amount: 251, refuse: "remainder of 2.50 EUR"},
		{name: "over the amount", amount: 1251, refuse: "remainder of 12.50 EUR"},
		{name: "fully refunded", order: func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 1250, 1 }, amount: 1, refuse: "remainder of 0.00 EUR"},
		{name: "zero", amount: 0, refuse: "above zero"},
		{name: "other currency", amount: 100, cur: "CNY", refuse: "refund_currency CNY must be the currency of the original transaction, EUR"},
		{name: "29th refund", order: func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 28, 28 }, amount: 1},
		{name: "30th refund", order: func(o *posgate.Order) { o.RefundedAmount, o.RefundCount = 29, 29 }, amount: 1, refuse: "less than 30 times"},
		{name: "exactly one year after payment", amount: 100, now: paidAt.AddDate(1, 0, 0)},
		{name: "just over one year", amount: 100, now: paidAt.AddDate(1, 0, 0).Add(time.Microsecond), refuse: "more than one year ago"},
		{name: "authorized", order: func(o *posgate.Order) { o.State = posgate.StateAuthorized }, amount: 100, refuse: "v3.CancelPayment"},
		{name: "cancelled", order: func(o *posgate.Order) { o.State = posgate.StateCancelled }, amount: 100, refuse: "is cancelled, only paid orders"},
		{name: "processing", order: func(o *posgate.Order) { o.State, o.PaidAt = posgate.StateProcessing, nil }, amount: 100, refuse: "is processing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := paidOrder()
			if tc.order != nil {
				tc.order(&o)
			}
			cur, at := tc.cur, tc.now
			if cur == "" {
				cur = "EUR"
			}
			if at.IsZero() {
				at = now
			}
			err := posgate.CheckRefund(o, tc.amount, cur, tc.rev, at)
			if tc.refuse == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, posgate.ErrRefundNotAllowed)
			var re *posgate.RuleError
			require.True(t, errors.As(err, &re))
			require.True(t, strings.Contains(re.Msg, tc.refuse), "message %q lacks %q", re.Msg, tc.refuse)
		})
	}
}

// The one-year rule counts from payment, not from the order's creation.
func TestCheckRefundYearFromPayment(t *testing.T) {
	o := paidOrder()
	o.CreatedAt = paidAt.AddDate(-1, 0, -1)
	require.NoError(t, posgate.CheckRefund(o, 100, "EUR", false, paidAt.AddDate(1, 0, 0)))
}

func TestRefundOutcome(t *testing.T) {
	now := paidAt.Add(time.Hour)
	o := paidOrder()
	o.RefundedAmount, o.RefundCount, o.Version = 300, 2, 7
	processing := posgate.Refund{RefundID: "rf-1", Amount: 200, State: posgate.RefundProcessing}
	waiting := processing
	waiting.State = posgate.RefundToBeApproved

	t.Run("refunded keeps the amount counted", func(t *testing.T) {
		r, next, changed := posgate.RefundOutcome(processing, o, posgate.RefundRefunded, "ARN-1", "", now)
		require.True(t, changed)
		require.Equal(t, posgate.RefundRefunded, r.State)
		require.Equal(t, "ARN-1", r.AcquirerRef)
		require.Equal(t, &now, r.RefundedAt)
		require.Equal(t, o, next)
	})
	t.Run("an error keeps the amount reserved", func(t *testing.T) {
		r, next, changed := posgate.RefundOutcome(processing, o, posgate.RefundError, "", "timeout", now)
		require.True(t, changed)
		require.Equal(t, "timeout", r.Message)
		require.Nil(t, r.RefundedAt)
		require.Equal(t, o, next)
	})
	for _, tc := range []struct {
		from posgate.Refund
		to   posgate.RefundState
	}{{processing, posgate.RefundFailed}, {waiting, posgate.RefundCancelled}} {
		t.Run(string(tc.to)+" gives the amount back", func(t *testing.T) {
			r, next, changed := posgate.RefundOutcome(tc.from, o, tc.to, "", "declined", now)
			require.True(t, changed)
			require.Equal(t, tc.to, r.State)
			require.Equal(t, int64(100), next.RefundedAmount)
			require.Equal(t, 1, next.RefundCount)
			require.Equal(t, o.Version, next.Version, "the store bumps the version")
		})
	}
	t.Run("approval", func(t *testing.T) {
		r, next, changed := posgate.RefundOutcome(waiting, o, posgate.RefundProcessing, "", "", now)
		require.True(t, changed)
		require.Equal(t, posgate.RefundProcessing, r.State)
		require.Equal(t, o, next)
	})
	t.Run("applied once", func(t *testing.T) {
		done, _, _ := posgate.RefundOutcome(processing, o, posgate.RefundFailed, "", "", now)
		for _, to := range []posgate.RefundState{posgate.RefundFailed, posgate.RefundRefunded, posgate.RefundCancelled} {
			_, next, changed := posgate.RefundOutcome(done, o, to, "", "", now)
			require.False(t, changed, to)
			require.Equal(t, o, next)
		}
		_, _, changed := posgate.RefundOutcome(processing, o, posgate.RefundCancelled, "", "", now)
		require.False(t, changed, "only a refund waiting for approval can be withdrawn")
		_, _, changed = posgate.RefundOutcome(waiting, o, posgate.RefundRefunded, "", "", now)
		require.False(t, changed, "a refund waiting for approval is not sent to the acquirer")
	})
}
