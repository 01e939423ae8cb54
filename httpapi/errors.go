package httpapi

import (
	"errors"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
)

// codeByError is the one table from domain errors to protocol codes.
var codeByError = []struct {
	err  error
	code protocol.Code
}{
	{posgate.ErrDuplicateRequest, protocol.CodeDuplicateRequest},
	{posgate.ErrInvalid, protocol.CodeInvalidField},
	{posgate.ErrTradeNotFound, protocol.CodeTradeNotFound},
	{posgate.ErrAlreadyCancelled, protocol.CodeAlreadyCancelled},
	{posgate.ErrExpired, protocol.CodeExpired},
	{posgate.ErrNotCancellable, protocol.CodeNotCancellable},
	{posgate.ErrReversalInFlight, protocol.CodeNotCancellable},
	{posgate.ErrCleared, protocol.CodeCleared},
	{posgate.ErrCancelWindow, protocol.CodeCancelWindow},
	{posgate.ErrTerminalOffline, protocol.CodeTerminalOffline},
	{posgate.ErrTerminalBusy, protocol.CodeTerminalBusy},
	{posgate.ErrTerminalTimeout, protocol.CodeTerminalTimeout},
	{posgate.ErrTerminalDeclined, protocol.CodeTerminalDeclined},
	{posgate.ErrRefundNotAllowed, protocol.CodeRefundNotAllowed},
	{posgate.ErrCaptureNotAllowed, protocol.CodeCaptureRefused},
	{posgate.ErrAlreadyCaptured, protocol.CodeCaptureRefused},
	{posgate.ErrAcquirerDeclined, protocol.CodeAcquirerDeclined},
	{posgate.ErrAcquirerUnknown, protocol.CodeAcquirerUnknown},
}

// codeOf maps err to its code and the message the caller sees. Anything
// unknown is internal: its text stays in the log, never in the answer.
func codeOf(err error) (protocol.Code, string) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code, pe.Msg
	}
	for _, m := range codeByError {
		if errors.Is(err, m.err) {
			var re *posgate.RuleError
			if errors.As(err, &re) {
				return m.code, re.Msg
			}
			return m.code, m.code.Message()
		}
	}
	return protocol.CodeInternal, protocol.CodeInternal.Message()
}
