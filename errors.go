package posgate

import "errors"

// Domain errors. The API maps each to a protocol code in one table
// (httpapi/errors.go); stores translate their drivers' errors into these.
var (
	ErrNotFound         = errors.New("not found")
	ErrDuplicateRequest = errors.New("duplicate request_id")
	ErrConflict         = errors.New("concurrent update, try again")
	ErrDuplicate        = errors.New("already exists")
	ErrTradeNotFound    = errors.New("the trade_id does not exist")
	ErrAlreadyCancelled = errors.New("the transaction has been cancelled")
	ErrExpired          = errors.New("the transaction has been expired")
	ErrNotCancellable   = errors.New("the transaction cannot be cancelled")
	ErrCleared          = errors.New("the transaction has been cleared and cannot be cancelled")
	ErrCancelWindow     = errors.New("exceed cancel window")
	ErrTerminalOffline  = errors.New("terminal offline")
	ErrTerminalBusy     = errors.New("terminal busy with another command")
	ErrTerminalTimeout  = errors.New("the terminal has not answered in time")
	ErrTerminalDeclined = errors.New("declined or aborted on the terminal")
	ErrRefundNotAllowed = errors.New("refund not allowed")
	ErrReversalInFlight = errors.New("another reversal of this order is in flight")
	// ErrCaptureNotAllowed: a capture or decrement of a pre-authorisation
	// that its rules refuse (not authorized, amount, currency, already
	// captured).
	ErrCaptureNotAllowed = errors.New("capture not allowed")
	// ErrAlreadyCaptured: the order already has a capture that moved or
	// may have moved money (the store's one-capture-per-order index).
	ErrAlreadyCaptured = errors.New("the authorisation has been captured already")
	// ErrAcquirerDeclined: the acquirer refused a cloud-side operation;
	// nothing moved.
	ErrAcquirerDeclined = errors.New("declined by the acquirer")
	// ErrAcquirerUnknown: the acquirer did not say whether it did what it
	// was asked; support must look before anything else happens.
	ErrAcquirerUnknown = errors.New("the acquirer's outcome is unknown")
	ErrInvalid         = errors.New("invalid value")
	// ErrNoOutbox: the store was opened without a notification outbox, so
	// it cannot store a notification it could never deliver.
	ErrNoOutbox = errors.New("the store has no notification outbox")
)

// RuleError is a domain error with a message for the caller that says
// which rule refused the request. errors.Is(err, Kind) holds.
type RuleError struct {
	Kind error
	Msg  string
}

func (e *RuleError) Error() string { return e.Msg }
func (e *RuleError) Unwrap() error { return e.Kind }

// Refuse builds a *RuleError.
func Refuse(kind error, msg string) error { return &RuleError{Kind: kind, Msg: msg} }
