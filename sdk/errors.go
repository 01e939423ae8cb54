package sdk

import (
	"encoding/json"

	"github.com/posgate/posgate/protocol"
)

// Error is a failure answer (status false) from a typed method. Compare it
// with the sentinels below: errors.Is(err, sdk.ErrAlreadyCancelled) holds
// for any *Error with that code, whatever its message.
type Error struct {
	Code       protocol.Code
	Message    string
	ResponseID string
	// Data is the answer's data, raw. Some failures carry the order as it
	// is: -3002 for an exact repeat, -4203 and -4204 (see Order).
	Data json.RawMessage
}

func (e *Error) Error() string {
	s := "posgate: " + string(e.Code) + " " + e.Message
	if e.ResponseID != "" {
		s += " (response_id " + e.ResponseID + ")"
	}
	return s
}

// Is makes errors.Is compare codes only.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Order decodes the order a failure answer carries, if it carries one.
func (e *Error) Order() (*Order, bool) {
	var o Order
	if len(e.Data) == 0 || json.Unmarshal(e.Data, &o) != nil || o.TradeID == "" {
		return nil, false
	}
	// A refund names its order's trade_id too; it is no order.
	if _, ok := e.Refund(); ok {
		return nil, false
	}
	return &o, true
}

// Refund decodes the refund a failure answer carries: -3002 on an exact
// repeat of a v3.CreateRefund, the refund the first request made.
func (e *Error) Refund() (*Refund, bool) {
	var r Refund
	if len(e.Data) == 0 || json.Unmarshal(e.Data, &r) != nil || r.RefundID == "" {
		return nil, false
	}
	return &r, true
}

func sentinel(c protocol.Code) *Error { return &Error{Code: c, Message: c.Message()} }

// One sentinel per code of the README's table.
var (
	ErrAuthFailed       = sentinel(protocol.CodeAuthFailed)       // -1001: unknown user or bad signature
	ErrTimeWindow       = sentinel(protocol.CodeTimeWindow)       // -1003: time outside the window; check the till's clock
	ErrUnknownMethod    = sentinel(protocol.CodeUnknownMethod)    // -1004
	ErrBadEnvelope      = sentinel(protocol.CodeBadEnvelope)      // -1005
	ErrRateLimited      = sentinel(protocol.CodeRateLimited)      // -1006: over a rate limit; the answer's Retry-After header says when to try again
	ErrMissingField     = sentinel(protocol.CodeMissingField)     // -3001
	ErrDuplicateRequest = sentinel(protocol.CodeDuplicateRequest) // -3002: request_id already used; Order() (Refund() for v3.CreateRefund) has the state of an exact repeat
	ErrInvalidField     = sentinel(protocol.CodeInvalidField)     // -3003
	ErrTIDMismatch      = sentinel(protocol.CodeTIDMismatch)      // -3004
	ErrCancelWindow     = sentinel(protocol.CodeCancelWindow)     // -4111: not the terminal's business day any more
	ErrCleared          = sentinel(protocol.CodeCleared)          // -4112: batch closed; refund instead
	ErrTradeNotFound    = sentinel(protocol.CodeTradeNotFound)    // -4114
	ErrNotCancellable   = sentinel(protocol.CodeNotCancellable)   // -4115
	ErrAlreadyCancelled = sentinel(protocol.CodeAlreadyCancelled) // -4116
	ErrExpired          = sentinel(protocol.CodeExpired)          // -4117
	ErrTerminalOffline  = sentinel(protocol.CodeTerminalOffline)  // -4201
	ErrTerminalBusy     = sentinel(protocol.CodeTerminalBusy)     // -4202
	ErrTerminalTimeout  = sentinel(protocol.CodeTerminalTimeout)  // -4203: outcome follows by notification; Order() has it as it is
	ErrTerminalDeclined = sentinel(protocol.CodeTerminalDeclined) // -4204: Order() has the order, unchanged
	ErrRefundNotAllowed = sentinel(protocol.CodeRefundNotAllowed) // -4301
	ErrCaptureRefused   = sentinel(protocol.CodeCaptureRefused)   // -4302: capture or decrement refused by its rules (docs/captures.md)
	ErrAcquirerDeclined = sentinel(protocol.CodeAcquirerDeclined) // -4303: nothing moved; Order() has the order, unchanged
	ErrAcquirerUnknown  = sentinel(protocol.CodeAcquirerUnknown)  // -4304: it may have been made; contact support before retrying
	ErrInternal         = sentinel(protocol.CodeInternal)         // -5000: nothing was changed
)
