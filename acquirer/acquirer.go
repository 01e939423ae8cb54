// Package acquirer is where refunds leave posgate: the interface a
// connector to a real acquirer implements, and a simulated acquirer with
// magic amounts for tests and demos (docs/refunds.md).
package acquirer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Request is one refund to make. RefundID is unique and stable across
// retries: connectors pass it to the acquirer as the idempotency key, so a
// refund retried after an unknown outcome is made at most once.
type Request struct {
	RefundID      string
	TradeID       string
	TransactionID string // the acquirer's reference of the payment
	Amount        int64  // minor units
	Currency      string
	Description   string
}

// Outcome is what the acquirer decided.
type Outcome string

const (
	// Refunded: the money is on its way back to the payer.
	Refunded Outcome = "refunded"
	// Failed: the acquirer refused the refund for good; nothing moved.
	Failed Outcome = "failed"
	// Unknown: the acquirer answered, but not whether it refunded (an
	// error on its side); someone must look before the amount is freed.
	Unknown Outcome = "unknown"
)

// Result is the acquirer's answer. Reference is its id of the refund when
// refunded; Message says why otherwise.
type Result struct {
	Outcome   Outcome
	Reference string
	Message   string
}

// Acquirer makes refunds. Refund returns an error only when the outcome is
// not known (timeout, connection lost): the caller must then treat the
// refund as possibly made.
type Acquirer interface {
	Refund(ctx context.Context, r Request) (Result, error)
}

// Magic amounts of the simulated acquirer, in minor units (2.05, 2.06 and
// 2.07 in a currency with two decimals). Every other amount is refunded.
const (
	AmountFailed  = 205 // refused: the refund fails (state refund failed, 24)
	AmountUnknown = 206 // acquirer error: outcome unknown (state refund error, 25)
	AmountSlow    = 207 // refunded after SlowDelay, to watch "refund processing"
)

// DefaultSlowDelay is how long the simulated acquirer takes over
// AmountSlow.
const DefaultSlowDelay = 2 * time.Second

// Simulated is an in-process acquirer that refunds everything but the
// magic amounts. Its zero value is ready to use.
type Simulated struct {
	// SlowDelay replaces DefaultSlowDelay when positive.
	SlowDelay time.Duration
}

var _ Acquirer = Simulated{}

// Refund answers at once, except for AmountSlow.
func (s Simulated) Refund(ctx context.Context, r Request) (Result, error) {
	switch r.Amount {
	case AmountFailed:
		return Result{Outcome: Failed, Message: "refund declined by the (simulated) acquirer"}, nil
	case AmountUnknown:
		return Result{Outcome: Unknown, Message: "the (simulated) acquirer reported an internal error"}, nil
	case AmountSlow:
		d := s.SlowDelay
		if d <= 0 {
			d = DefaultSlowDelay
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	return Result{Outcome: Refunded, Reference: reference(r.RefundID)}, nil
}

// reference looks like an acquirer reference number: "SIM" and 20 hex
// digits, upper case. It follows from the refund id, the idempotency key:
// asked again, the simulated acquirer names the same refund.
func reference(refundID string) string {
	h := sha256.Sum256([]byte(refundID))
	return "SIM" + strings.ToUpper(hex.EncodeToString(h[:10]))
}
