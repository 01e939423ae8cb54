package posgate

import "time"

// CommandKind names what a terminal is asked to do.
type CommandKind string

const (
	CommandSale          CommandKind = "sale"
	CommandAuthorisation CommandKind = "authorisation"
	CommandReversal      CommandKind = "reversal"
)

// CommandState: a command is in flight from its creation until its one
// final result is applied (done) or the cloud gives up on it (abandoned).
// A command the cloud makes on its own (the reversal of a late approval)
// is queued until its terminal has no other command in flight.
type CommandState string

const (
	CommandQueued    CommandState = "queued"
	CommandInFlight  CommandState = "in_flight"
	CommandDone      CommandState = "done"
	CommandAbandoned CommandState = "abandoned"
)

// Outcome is a command's final result as the terminal reports it.
type Outcome string

const (
	OutcomeApproved  Outcome = "approved"
	OutcomeDeclined  Outcome = "declined"
	OutcomeFailed    Outcome = "failed"
	OutcomeCancelled Outcome = "cancelled" // aborted by the cloud or the operator
	OutcomeExpired   Outcome = "expired"   // no card presented in time
	// OutcomeInterrupted: the terminal restarted while running the command
	// and the acquirer never answered it, so the card was not charged.
	// Orders treat it like failed.
	OutcomeInterrupted Outcome = "interrupted"
)

// CommandContext is what applying a terminal's result reads, in one
// read (Tx.CommandForResult): the command, its order, its reversal (nil
// when no reversal has the command), and whether the command's terminal
// has a queued command waiting.
type CommandContext struct {
	Command  Command
	Order    Order
	Reversal *Reversal
	Queued   bool
}

// Command is an instruction to a terminal, persisted before it is sent.
// The store allows at most one in flight per terminal.
type Command struct {
	ID        string
	TID       string
	Kind      CommandKind
	TradeID   string
	State     CommandState
	CreatedAt time.Time
	// Result fields, set when State is done.
	Outcome       Outcome
	TransactionID string
	Message       string
	// Receipt is the card data of the result, when the terminal sent it.
	Receipt    Receipt
	FinishedAt *time.Time
}

// CommandEvent is a progress step the terminal reported (received, on
// screen, waiting for card, authorising, approved...).
type CommandEvent struct {
	CommandID string
	Stage     Stage
	Message   string
	At        time.Time
}

// Stage is a progress step a terminal reports while it runs a command. A
// terminal may skip stages.
type Stage string

const (
	StageReceived          Stage = "received"           // the command arrived
	StageOnScreen          Stage = "on_screen"          // the amount is shown to the customer
	StageWaitingForCard    Stage = "waiting_for_card"   // "tap, insert or swipe card"
	StageCardRead          Stage = "card_read"          // a card was presented
	StageAuthorising       Stage = "authorising"        // the terminal talks to the acquirer
	StageReversalRequested Stage = "reversal_requested" // the reversal is shown to the operator
	StageProcessing        Stage = "processing"         // the reversal went to the acquirer
	StageApproved          Stage = "approved"
	StageDeclined          Stage = "declined"
	StageCancelled         Stage = "cancelled"
)

// Stages lists every stage a terminal may report.
var Stages = []Stage{
	StageReceived, StageOnScreen, StageWaitingForCard, StageCardRead, StageAuthorising,
	StageReversalRequested, StageProcessing, StageApproved, StageDeclined, StageCancelled,
}

// Outcomes lists every outcome a terminal may report.
var Outcomes = []Outcome{OutcomeApproved, OutcomeDeclined, OutcomeFailed, OutcomeCancelled, OutcomeExpired, OutcomeInterrupted}

// CommandKinds lists every kind of command.
var CommandKinds = []CommandKind{CommandSale, CommandAuthorisation, CommandReversal}

// Shown reports whether a command that reached this stage is on the
// terminal's screen, where the customer or operator can act on it.
func (s Stage) Shown() bool {
	switch s {
	case StageOnScreen, StageWaitingForCard, StageReversalRequested:
		return true
	}
	return false
}

// ResultStage is the history entry recorded for a result, beside the
// progress stages.
func ResultStage(o Outcome) Stage { return Stage("result:" + string(o)) }

// Progress is a terminal's report of a stage of one of its commands.
type Progress struct {
	CommandID string
	Stage     Stage
	Message   string
}

// Result is a terminal's final report of one of its commands.
type Result struct {
	CommandID     string
	Outcome       Outcome
	TransactionID string
	Message       string
	Receipt       Receipt
}

// AbortReason says why the cloud asks a terminal to stop a command.
type AbortReason string

const (
	AbortCancelled AbortReason = "cancelled" // v3.POSCancel or a silent cancel
	AbortExpired   AbortReason = "expired"   // the order's card-acquisition time is over
)

// AbortReasons lists every abort reason.
var AbortReasons = []AbortReason{AbortCancelled, AbortExpired}

// Dispatch is a command as its terminal needs it: the command, the order
// it is about, and how long the terminal waits for a card (zero for a
// reversal).
type Dispatch struct {
	Command     Command
	Order       Order
	CardTimeout time.Duration
}
