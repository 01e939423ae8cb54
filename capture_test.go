package posgate

import (
	"errors"
	"testing"
	"time"
)

func authorisedOrder(approved time.Time) Order {
	return Order{TradeID: "tr", Operation: OpAuthorisation, State: StateAuthorized, Amount: 1250, TipAmount: 100,
		Currency: "EUR", CreatedAt: approved, PaidAt: &approved}
}

func TestCheckCapture(t *testing.T) {
	approved := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now := approved.Add(time.Hour)
	ok := authorisedOrder(approved)
	captured := ok
	captured.State = StatePaid
	sale := ok
	sale.Operation, sale.State = OpSale, StatePaid
	for _, tc := range []struct {
		name     string
		o        Order
		amount   int64
		currency string
		busy     string
		now      time.Time
		want     error
	}{
		{"full", ok, 1250, "EUR", "", now, nil},
		{"partial", ok, 1000, "EUR", "", now, nil},
		{"the last instant", ok, 1250, "EUR", "", approved.Add(AuthorisationValidity - time.Microsecond), nil},
		{"30 days", ok, 1250, "EUR", "", approved.Add(AuthorisationValidity), ErrExpired},
		{"over the authorised amount", ok, 1251, "EUR", "", now, ErrCaptureNotAllowed},
		{"another currency", ok, 1000, "USD", "", now, ErrCaptureNotAllowed},
		{"below the minimum", ok, 9, "EUR", "", now, ErrCaptureNotAllowed},
		{"below the tip", ok, 99, "EUR", "", now, ErrCaptureNotAllowed},
		{"zero", ok, 0, "EUR", "", now, ErrCaptureNotAllowed},
		{"busy", ok, 1000, "EUR", "a capture of it is in flight", now, ErrCaptureNotAllowed},
		{"captured already", captured, 1000, "EUR", "", now, ErrAlreadyCaptured},
		{"a sale", sale, 1000, "EUR", "", now, ErrCaptureNotAllowed},
		{"cancelled", Order{State: StateCancelled}, 1000, "EUR", "", now, ErrAlreadyCancelled},
		{"expired", Order{State: StateExpired}, 1000, "EUR", "", now, ErrExpired},
		{"processing", Order{State: StateProcessing, Operation: OpAuthorisation}, 1000, "EUR", "", now, ErrCaptureNotAllowed},
	} {
		err := CheckCapture(tc.o, tc.amount, tc.currency, tc.busy, tc.now)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCheckDecrement(t *testing.T) {
	approved := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now := approved.Add(time.Hour)
	o := authorisedOrder(approved)
	for _, tc := range []struct {
		name      string
		reduction int64
		want      error
	}{
		{"some", 200, nil},
		{"down to the minimum and tip", 1150, nil},
		{"below the tip", 1151, ErrCaptureNotAllowed},
		{"to zero", 1250, ErrCaptureNotAllowed},
		{"beyond", 5000, ErrCaptureNotAllowed},
		{"nothing", 0, ErrCaptureNotAllowed},
	} {
		err := CheckDecrement(o, tc.reduction, "EUR", "", now)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	noTip := o
	noTip.TipAmount = 0
	if err := CheckDecrement(noTip, 1241, "EUR", "", now); !errors.Is(err, ErrCaptureNotAllowed) {
		t.Errorf("below EUR 0.10 left: %v", err)
	}
	if err := CheckDecrement(noTip, 1240, "EUR", "", now); err != nil {
		t.Errorf("EUR 0.10 left: %v", err)
	}
}

func TestCaptureOutcome(t *testing.T) {
	approved := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now := approved.Add(time.Hour)
	o := authorisedOrder(approved)
	c := Capture{State: CaptureProcessing, Amount: 1000, AuthorisedAmount: 1250}
	nc, no, changed := CaptureOutcome(c, o, CaptureCaptured, "ARN", "", now)
	if !changed || nc.State != CaptureCaptured || no.State != StatePaid || no.Amount != 1000 || !no.PaidAt.Equal(now) {
		t.Errorf("captured: %+v %+v %v", nc, no, changed)
	}
	for _, next := range []CaptureState{CaptureFailed, CaptureError} {
		nc, no, changed = CaptureOutcome(c, o, next, "", "why", now)
		if !changed || nc.State != next || no.State != StateAuthorized || no.Amount != 1250 {
			t.Errorf("%s: %+v %+v %v", next, nc, no, changed)
		}
	}
	if _, _, changed := CaptureOutcome(nc, o, CaptureCaptured, "", "", now); changed {
		t.Error("a finished capture changed again")
	}
}

func TestExpireAuthorisation(t *testing.T) {
	approved := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	o := authorisedOrder(approved)
	if _, changed := ExpireAuthorisation(o, approved.Add(AuthorisationValidity-time.Second)); changed {
		t.Error("expired before 30 days")
	}
	if next, changed := ExpireAuthorisation(o, approved.Add(AuthorisationValidity)); !changed || next.State != StateExpired {
		t.Errorf("not expired at 30 days: %+v", next)
	}
	paid := o
	paid.State = StatePaid
	if _, changed := ExpireAuthorisation(paid, approved.Add(40*24*time.Hour)); changed {
		t.Error("a captured order expired")
	}
}
