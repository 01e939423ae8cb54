package payment

import (
	"time"

	"github.com/posgate/posgate"
)

// Observer is told of what operators measure and alert on, as it
// happens: the gateway feeds its metrics from it. Its methods must be
// quick and must not block; they are called after the change committed.
type Observer interface {
	// CommandFinished: a command's result was applied (outcome is the
	// terminal's) after roundTrip from the command's creation, or the
	// cloud abandoned it (outcome "abandoned", roundTrip zero).
	CommandFinished(kind posgate.CommandKind, outcome string, roundTrip time.Duration)
	// LateResult: a result came for a command the cloud had abandoned.
	LateResult(kind posgate.CommandKind, outcome posgate.Outcome)
	// RefundFinished: a refund reached a final state (refunded, refund
	// failed, refund error, refund cancel).
	RefundFinished(state posgate.RefundState)
	// CaptureFinished: a capture was answered (captured, failed, error).
	CaptureFinished(state posgate.CaptureState)
}

// OutcomeAbandoned is CommandFinished's outcome for a command the cloud
// gave up (cancelled or expired while the terminal was silent).
const OutcomeAbandoned = "abandoned"

type nopObserver struct{}

func (nopObserver) CommandFinished(posgate.CommandKind, string, time.Duration) {}
func (nopObserver) LateResult(posgate.CommandKind, posgate.Outcome)            {}
func (nopObserver) RefundFinished(posgate.RefundState)                         {}
func (nopObserver) CaptureFinished(posgate.CaptureState)                       {}
