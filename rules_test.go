package posgate

import (
	"errors"
	"testing"
	"time"
)

var (
	amsterdam, _ = time.LoadLocation("Europe/Amsterdam")
	newYork, _   = time.LoadLocation("America/New_York")
)

// paidOrder is a sale paid on T1 at t in loc's business day.
func paidOrder(t time.Time, loc *time.Location) Order {
	return Order{TradeID: "t", TID: "T1", State: StatePaid, Amount: 1250, CreatedAt: t, BusinessDate: BusinessDate(t, loc)}
}

func TestCheckReversalInTheContractsOrder(t *testing.T) {
	sale := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := sale.Add(time.Hour)
	cleared := sale
	tests := []struct {
		name     string
		mod      func(*Order)
		tid      string
		inFlight bool
		now      time.Time
		want     error
	}{
		{"paid, same day, own terminal", nil, "T1", false, now, nil},
		{"authorized can be reversed", func(o *Order) { o.State = StateAuthorized }, "T1", false, now, nil},
		{"cancelled", func(o *Order) { o.State = StateCancelled }, "T1", false, now, ErrAlreadyCancelled},
		{"expired", func(o *Order) { o.State = StateExpired }, "T1", false, now, ErrExpired},
		{"processing", func(o *Order) { o.State = StateProcessing }, "T1", false, now, ErrNotCancellable},
		{"declined", func(o *Order) { o.State = StateDeclined }, "T1", false, now, ErrNotCancellable},
		{"refunded in part", func(o *Order) { o.RefundedAmount, o.RefundCount = 100, 1 }, "T1", false, now, ErrNotCancellable},
		{"another terminal's order", nil, "T2", false, now, ErrNotCancellable},
		{"a reversal in flight", nil, "T1", true, now, ErrNotCancellable},
		{"cleared", func(o *Order) { o.ClearedAt = &cleared }, "T1", false, now, ErrCleared},
		{"next business day", nil, "T1", false, sale.AddDate(0, 0, 1), ErrCancelWindow},
		// Order of the rules: cancelled beats cleared, cleared beats the day.
		{"cancelled and cleared", func(o *Order) { o.State, o.ClearedAt = StateCancelled, &cleared }, "T1", false, now, ErrAlreadyCancelled},
		{"cleared and next day", func(o *Order) { o.ClearedAt = &cleared }, "T1", false, sale.AddDate(0, 0, 1), ErrCleared},
		{"refunded and another terminal's", func(o *Order) { o.RefundCount = 1 }, "T2", false, now, ErrNotCancellable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := paidOrder(sale, amsterdam)
			if tc.mod != nil {
				tc.mod(&o)
			}
			err := CheckReversal(o, tc.tid, tc.inFlight, amsterdam, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var re *RuleError
			if err != nil && (!errors.As(err, &re) || re.Msg == "") {
				t.Fatalf("refusal without a message: %v", err)
			}
		})
	}
}

// The business day is the terminal's calendar day: 23:50 and 00:10 in
// Amsterdam are two days even though both are 25 November in UTC, while
// New York is still on the 25th.
func TestBusinessDayIsTheTerminalsCalendarDay(t *testing.T) {
	sale := time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC)  // 23:50 CET
	later := time.Date(2026, 11, 25, 23, 10, 0, 0, time.UTC) // 00:10 CET, 18:10 EST
	if err := CheckReversal(paidOrder(sale, amsterdam), "T1", false, amsterdam, later); !errors.Is(err, ErrCancelWindow) {
		t.Fatalf("Amsterdam: %v, want the cancel window", err)
	}
	if err := CheckReversal(paidOrder(sale, newYork), "T1", false, newYork, later); err != nil {
		t.Fatalf("New York: %v, want allowed", err)
	}
	// Summer time: 23:30 CEST on 28 March 2027 is 21:30 UTC.
	dst := time.Date(2027, 3, 28, 21, 30, 0, 0, time.UTC)
	if got := BusinessDate(dst, amsterdam); got != "2027-03-28" {
		t.Fatalf("business date %s", got)
	}
}

func TestCheckPOSCancel(t *testing.T) {
	o := Order{TID: "T1", State: StateProcessing}
	if err := CheckPOSCancel(o, "T1"); err != nil {
		t.Fatal(err)
	}
	for state, want := range map[State]error{
		StateCancelled: ErrAlreadyCancelled, StateExpired: ErrExpired, StatePaid: ErrNotCancellable,
		StateAuthorized: ErrNotCancellable, StateDeclined: ErrNotCancellable, StateFailed: ErrNotCancellable,
	} {
		o.State = state
		if err := CheckPOSCancel(o, "T1"); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", state, err, want)
		}
	}
	o.State = StateProcessing
	if err := CheckPOSCancel(o, "T2"); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("another terminal: %v", err)
	}
}

func TestCheckCancelPaymentWindow(t *testing.T) {
	sale := time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC) // 23:50 CET on the 25th
	o := paidOrder(sale, amsterdam)
	cases := map[time.Time]error{
		time.Date(2026, 11, 25, 23, 29, 59, 0, time.UTC): nil,             // 00:29:59 CET on the 26th
		time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC):  ErrCancelWindow, // 00:30 CET
	}
	for now, want := range cases {
		if err := CheckCancelPayment(o, false, amsterdam, now); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("at %s: %v, want %v", now, err, want)
		}
	}
	for _, tc := range []struct {
		mod  func(*Order)
		want error
	}{
		{func(o *Order) { o.State = StateProcessing }, nil},
		{func(o *Order) { o.State = StateAuthorized }, nil},
		{func(o *Order) { o.State = StateDeclined }, ErrNotCancellable},
		{func(o *Order) { o.RefundCount = 1 }, ErrNotCancellable},
		{func(o *Order) { o.ClearedAt = &sale }, ErrCleared},
	} {
		o := paidOrder(sale, amsterdam)
		tc.mod(&o)
		err := CheckCancelPayment(o, false, amsterdam, sale.Add(time.Minute))
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%+v: %v, want %v", o, err, tc.want)
		}
	}
	if err := CheckCancelPayment(o, true, amsterdam, sale); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("reversal in flight: %v", err)
	}
}

func TestOutcomes(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	o := Order{State: StateProcessing}
	for out, want := range map[Outcome]State{
		OutcomeApproved: StatePaid, OutcomeDeclined: StateDeclined, OutcomeFailed: StateFailed,
		OutcomeCancelled: StateCancelled, OutcomeExpired: StateExpired,
	} {
		got, changed := SaleOutcome(o, OpSale, out, "ACQ", Receipt{}, now)
		if !changed || got.State != want {
			t.Errorf("%s: %s %v, want %s", out, got.State, changed, want)
		}
	}
	if got, _ := SaleOutcome(o, OpAuthorisation, OutcomeApproved, "ACQ", visaChip, now); got.State != StateAuthorized || got.PaidAt == nil || got.TransactionID != "ACQ" || got.Receipt != visaChip {
		t.Errorf("authorisation approved: %+v", got)
	}
	if _, changed := SaleOutcome(Order{State: StateExpired}, OpSale, OutcomeApproved, "ACQ", Receipt{}, now); changed {
		t.Error("a late approval changed an expired order")
	}
	if got, changed := ReversalOutcome(Order{State: StatePaid}, OutcomeApproved, now); !changed || got.State != StateCancelled {
		t.Errorf("reversal approved: %s %v", got.State, changed)
	}
	if _, changed := ReversalOutcome(Order{State: StatePaid}, OutcomeDeclined, now); changed {
		t.Error("a declined reversal changed the order")
	}
}

func TestClearThrough(t *testing.T) {
	cases := map[time.Time]string{
		time.Date(2026, 11, 25, 23, 29, 0, 0, time.UTC): "2026-11-24", // 00:29 CET on the 26th: before the cutoff
		time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC): "2026-11-25", // 00:30 CET: the 25th's batch closes
		time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC):  "2026-11-25",
	}
	for now, want := range cases {
		if got := ClearThrough(now, amsterdam, DefaultCutoff); got != want {
			t.Errorf("at %s: %s, want %s", now, got, want)
		}
	}
}
