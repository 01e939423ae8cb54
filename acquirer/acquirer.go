// Package acquirer is where cloud-side operations leave posgate (refunds,
// captures and decrements of pre-authorisations): the interface a
// connector to a real acquirer implements, and a simulated acquirer with
// magic amounts for tests and demos (docs/refunds.md, docs/captures.md).
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

// AuthRequest is one change to a pre-authorisation: a capture of Amount,
// or a decrement of the authorised amount by Amount. ID is unique and
// stable across retries, the idempotency key like a refund's RefundID.
type AuthRequest struct {
	ID            string
	TradeID       string
	TransactionID string // the acquirer's reference of the authorisation
	Amount        int64  // minor units
	Currency      string
}

// Outcome is what the acquirer decided.
type Outcome string

const (
	// Refunded: the money is on its way back to the payer.
	Refunded Outcome = "refunded"
	// Approved: the capture or decrement was made.
	Approved Outcome = "approved"
	// Failed: the acquirer refused for good; nothing moved.
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

// Acquirer makes refunds, captures and decrements. Each returns an error
// only when the outcome is not known (timeout, connection lost): the
// caller must then treat the operation as possibly made.
type Acquirer interface {
	Refund(ctx context.Context, r Request) (Result, error)
	// Capture takes r.Amount of an authorisation; the rest is released.
	Capture(ctx context.Context, r AuthRequest) (Result, error)
	// Decrement lowers an authorisation by r.Amount.
	Decrement(ctx context.Context, r AuthRequest) (Result, error)
}

// Magic amounts of the simulated acquirer, in minor units (2.05, 2.06 and
// 2.07 in a currency with two decimals): of a refund, a capture, or the
// reduction of a decrement. Every other amount succeeds.
const (
	AmountFailed  = 205 // refused: the refund fails (state refund failed, 24)
	AmountUnknown = 206 // acquirer error: outcome unknown (state refund error, 25)
	AmountSlow    = 207 // refunded after SlowDelay, to watch "refund processing"
)

// DefaultSlowDelay is how long the simulated acquirer takes over
// AmountSlow.
const DefaultSlowDelay = 2 * time.Second

// Simulated is an in-process acquirer that makes everything but the
// magic amounts. Its zero value is ready to use.
type Simulated struct {
	// SlowDelay replaces DefaultSlowDelay when positive.
	SlowDelay time.Duration
}

var _ Acquirer = Simulated{}

// Refund answers at once, except for AmountSlow.
func (s Simulated) Refund(ctx context.Context, r Request) (Result, error) {
	return s.answer(ctx, "refund", r.RefundID, r.Amount, Refunded)
}

// Capture answers at once, except for AmountSlow.
func (s Simulated) Capture(ctx context.Context, r AuthRequest) (Result, error) {
	return s.answer(ctx, "capture", r.ID, r.Amount, Approved)
}

// Decrement answers at once, except for AmountSlow.
func (s Simulated) Decrement(ctx context.Context, r AuthRequest) (Result, error) {
	return s.answer(ctx, "decrement", r.ID, r.Amount, Approved)
}

// answer is the simulated acquirer's decision; key is the request's
// idempotency key.
func (s Simulated) answer(ctx context.Context, what, key string, amount int64, success Outcome) (Result, error) {
	switch amount {
	case AmountFailed:
		return Result{Outcome: Failed, Message: what + " declined by the (simulated) acquirer"}, nil
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
	return Result{Outcome: success, Reference: reference(what, key)}, nil
}

// reference looks like an acquirer reference number: "SIM" and 20 hex
// digits, upper case. It follows from the request's idempotency key:
// asked again, the simulated acquirer names the same operation.
func reference(what, key string) string {
	h := sha256.Sum256([]byte(what + ":" + key))
	return "SIM" + strings.ToUpper(hex.EncodeToString(h[:10]))
}
