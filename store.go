package posgate

import (
	"context"
	"time"
)

// Store persists the domain. Every write happens inside InTx, so a state
// change, the request_id that caused it, the command it sends and the
// notification it produces commit together or not at all. Implementations:
// sqlite (embedded) and, later, postgres; both pass storetest.
type Store interface {
	// InTx runs fn in one transaction, committing when fn returns nil and
	// rolling back otherwise. Implementations retry fn a bounded number of
	// times on serialization failures, so fn must not have side effects
	// outside tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Read runs fn in a read-only transaction that sees everything
	// committed before it began; a write inside it fails. Reads do not
	// wait behind writes, so queries stay fast while writers are busy.
	Read(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the database.
	Close() error
}

// Tx is one transaction. Methods are plain reads and writes; the rules live
// in this package's functions, and the invariants money depends on are
// enforced by the database (unique and check constraints, compare-and-set):
//   - at most one reversal in flight or approved per order
//     (InsertReversal returns ErrReversalInFlight);
//   - at most one command in flight per terminal
//     (InsertCommand returns ErrTerminalBusy);
//   - a request_id once per user (InsertRequest returns ErrDuplicateRequest);
//   - an order's refunded amount never above its amount;
//   - at most one capture per order that is not failed
//     (InsertCapture returns ErrAlreadyCaptured);
//   - a command's result applied once (FinishCommand reports false when
//     the command was no longer in flight).
//
// Reads of missing rows return ErrNotFound.
type Tx interface {
	// Merchants and credentials.
	EnsureMerchant(name string, now time.Time) (Merchant, error)
	Merchant(id int64) (Merchant, error)
	// InsertTerminal adds the principal (kind terminal) and the terminal;
	// ErrDuplicate when the user name is taken by a terminal or a cashier.
	InsertTerminal(t Terminal, sealedSecret []byte) error
	// InsertCashier adds the principal (kind cashier) and the cashier.
	InsertCashier(c Cashier, sealedSecret []byte) error
	Principal(user string) (Principal, error)
	Terminal(tid string) (Terminal, error)
	// Terminals and Cashiers list all, ordered by their id.
	Terminals() ([]Terminal, error)
	Cashiers() ([]Cashier, error)

	// DeferWrites lets the store hold back this transaction's writes
	// that return only an error (inserts, UpdateOrder, UpdateReversal and
	// the like) and send them together with its next read, its next write
	// that reports a result, or its commit: on PostgreSQL several
	// statements in one round trip. A held-back write's error (a
	// constraint, a compare-and-set that missed) is then returned by that
	// later call or by InTx, not by the write; the transaction fails all
	// the same. Callers that act on a write's particular error do so on
	// InTx's result. The SQLite store, whose statements cost no round
	// trip, writes at once. FinishCommand is held back too and reports
	// true: a command that was not in flight then fails the transaction
	// with ErrConflict, so a caller that defers finishes only a command
	// it read in flight in the same transaction.
	DeferWrites()

	// Request ids.
	Request(user, requestID string) (RequestRecord, error)
	InsertRequest(r RequestRecord) error

	// Orders.
	Order(tradeID string) (Order, error)
	InsertOrder(o Order) error
	// UpdateOrder writes o when the stored version is o.Version, and stores
	// o.Version+1; ErrConflict otherwise.
	UpdateOrder(o Order) error
	// ExpiredOrders lists orders in pending or processing whose ExpiresAt
	// is not after now.
	ExpiredOrders(now time.Time, limit int) ([]Order, error)
	// ClearOrders sets ClearedAt on the terminal's paid and authorized
	// orders with BusinessDate <= through that are not cleared yet, and
	// returns how many it cleared.
	ClearOrders(tid, through string, now time.Time) (int, error)

	// Reversals.
	InsertReversal(r Reversal) error
	UpdateReversal(r Reversal) error
	// ActiveReversal returns the order's reversal in flight or approved.
	ActiveReversal(tradeID string) (Reversal, error)
	ReversalByCommand(commandID string) (Reversal, error)
	// OrderForReversal returns what the reversal and cancel rules check,
	// in one read; ErrNotFound when the order does not exist (the request
	// is then not looked up). An empty requestID looks up no request.
	OrderForReversal(tradeID, user, requestID string) (ReversalContext, error)
	// CommandForResult returns the command with what applying its result
	// needs, in one read.
	CommandForResult(id string) (CommandContext, error)

	// Commands.
	InsertCommand(c Command) error
	Command(id string) (Command, error)
	// CommandsByID returns those of the commands ids that exist, in no
	// particular order: one statement for a batch of progress reports.
	CommandsByID(ids []string) ([]Command, error)
	// InFlightCommand returns the terminal's command in flight.
	InFlightCommand(tid string) (Command, error)
	// CommandForTrade returns the newest command of the given kind for an
	// order.
	CommandForTrade(tradeID string, kind CommandKind) (Command, error)
	// FinishCommand moves an in-flight command to c.State (done or
	// abandoned) with c's result fields; false when it was not in flight.
	FinishCommand(c Command) (bool, error)
	// NextQueuedCommand returns the terminal's oldest queued command.
	NextQueuedCommand(tid string) (Command, error)
	// StartCommand moves a queued command to in flight; false when it was
	// not queued, ErrTerminalBusy when its terminal has one in flight.
	StartCommand(id string) (bool, error)
	// InsertEvent records events in their order (one statement on
	// PostgreSQL, for a batch of progress reports).
	InsertEvent(events ...CommandEvent) error
	Events(commandID string) ([]CommandEvent, error)

	// Terminal-link nonces: UseNonce records a nonce of a terminal's hello
	// until expires; ErrDuplicate when it was used already. Expired nonces
	// may be purged.
	UseNonce(tid, nonce string, expires time.Time, now time.Time) error

	// Refunds. InsertRefund returns ErrDuplicate when the merchant already
	// has a refund with the same non-empty MRefundID. The order's
	// RefundedAmount and RefundCount are the caller's to update (with
	// UpdateOrder, in the same transaction), and the order's check
	// constraint keeps the sum within the amount.
	InsertRefund(r Refund) error
	Refund(refundID string) (Refund, error)
	// UpdateRefund writes r when the stored version is r.Version, and
	// stores r.Version+1; ErrConflict otherwise.
	UpdateRefund(r Refund) error
	// RefundsForOrder lists the order's refunds, oldest first.
	RefundsForOrder(tradeID string) ([]Refund, error)
	RefundByMerchantRef(merchantID int64, mRefundID string) (Refund, error)
	// StaleRefunds lists refunds in state last updated at or before
	// before, oldest first, at most limit.
	StaleRefunds(state RefundState, before time.Time, limit int) ([]Refund, error)

	// Captures. The order's change is the caller's (UpdateOrder in the
	// same transaction); every capture writes its order, so a capture
	// and a concurrent decrement, reversal or expiry of the same order
	// cannot both commit on stale reads.
	InsertCapture(c Capture) error
	// FinishCapture moves a capture in processing to c.State with c's
	// result fields; false when it was not in processing.
	FinishCapture(c Capture) (bool, error)
	// ActiveCapture returns the order's capture that is not failed.
	ActiveCapture(tradeID string) (Capture, error)
	// CapturesForTrade lists the order's captures, failed ones included,
	// oldest first.
	CapturesForTrade(tradeID string) ([]Capture, error)
	// InsertDecrement records a decrement; the order's change is the
	// caller's (UpdateOrder in the same transaction), so concurrent
	// decrements of one order serialise on its version. A decrement with
	// After not Before - Amount, or not above zero, is refused with
	// ErrCaptureNotAllowed.
	InsertDecrement(d Decrement) error
	// FinishDecrement moves a decrement in processing to d.State with d's
	// result fields; false when it was not in processing.
	FinishDecrement(d Decrement) (bool, error)
	// DecrementsForTrade lists the order's decrements, oldest first.
	DecrementsForTrade(tradeID string) ([]Decrement, error)
	// StaleDecrements lists decrements still processing that were asked
	// for at or before before, oldest first, at most limit.
	StaleDecrements(before time.Time, limit int) ([]Decrement, error)
	// StaleCaptures lists captures still processing that were asked for at
	// or before before, oldest first, at most limit.
	StaleCaptures(before time.Time, limit int) ([]Capture, error)
	// StaleAuthorisations lists authorized orders approved at or before
	// approvedBefore that have no capture other than failed ones, oldest
	// first, at most limit.
	StaleAuthorisations(approvedBefore time.Time, limit int) ([]Order, error)
	// ClaimJob is a scheduled job's compare-and-set: when the job named
	// is due at now (or has never run), it becomes due at next and
	// ClaimJob reports true; otherwise false, and the caller skips this
	// run because another process has it.
	ClaimJob(name string, now, next time.Time) (bool, error)

	// Exports, a page at a time: the merchant's paid orders with
	// PaidAt in [from, to), and its refunded refunds with RefundedAt in
	// [from, to), ordered by that time and then id, starting after the
	// cursor (zero time: from the start), at most limit. A non-empty tid
	// keeps the orders made on that terminal (and their refunds).
	PaidOrdersBetween(merchantID int64, tid string, from, to time.Time, after ExportCursor, limit int) ([]Order, error)
	RefundsBetween(merchantID int64, tid string, from, to time.Time, after ExportCursor, limit int) ([]Refund, error)

	// Notification outbox. InsertNotification also schedules its delivery
	// in the same transaction, so the delivery is due if and only if the
	// transaction commits; a store opened without an outbox refuses it
	// with ErrNoOutbox. ScheduleNotification schedules one more delivery
	// of a stored notification (an operator's replay) the same way.
	InsertNotification(n Notification) error
	ScheduleNotification(id string) error
	Notification(id string) (Notification, error)
	// Notifications lists the newest notifications first, at most limit;
	// with failedOnly, only those not delivered that have failed at least
	// once.
	Notifications(failedOnly bool, limit int) ([]Notification, error)
	// UpdateNotification records a delivery attempt: Attempts,
	// DeliveredAt, LastError and NextAttempt.
	UpdateNotification(n Notification) error

	// Operator reads: an order's history and the console's lists. The
	// ForTrade lists are oldest first.
	RequestsForTrade(tradeID string) ([]RequestRecord, error)
	CommandsForTrade(tradeID string) ([]Command, error)
	ReversalsForTrade(tradeID string) ([]Reversal, error)
	// NotificationsForTrade includes those of the order's refunds.
	NotificationsForTrade(tradeID string) ([]Notification, error)
	// Orders lists the orders f selects, newest first.
	Orders(f OrderFilter) ([]Order, error)
	// RefundsInState lists refunds in state, oldest first, at most limit.
	RefundsInState(state RefundState, limit int) ([]Refund, error)

	// Operators. InsertOperator returns ErrDuplicate when the name is
	// taken; DeleteOperator ErrNotFound when it is not. Operators lists
	// them by name.
	InsertOperator(o Operator) error
	Operator(name string) (Operator, error)
	Operators() ([]Operator, error)
	DeleteOperator(name string) error
	// InsertOperatorAction records an action in the transaction of the
	// change it made; OperatorActionsForTrade lists an order's, oldest
	// first (equal times in the order they were recorded).
	InsertOperatorAction(a OperatorAction) error
	OperatorActionsForTrade(tradeID string) ([]OperatorAction, error)
}
