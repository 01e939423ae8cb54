package payment

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posgate/posgate"
)

// EntryKind says what a timeline entry records.
type EntryKind string

const (
	EntryRequest          EntryKind = "request"            // an accepted request named the order
	EntryOrderCreated     EntryKind = "order_created"      // the order was stored
	EntryCommand          EntryKind = "command"            // a command was persisted for the terminal
	EntryProgress         EntryKind = "progress"           // the terminal reported a stage
	EntryResult           EntryKind = "result"             // the terminal reported the outcome
	EntryAbandoned        EntryKind = "command_abandoned"  // the cloud gave up the command (cancel, expiry)
	EntryReversal         EntryKind = "reversal"           // a reversal began
	EntryReversalFinished EntryKind = "reversal_finished"  // the reversal was approved or declined
	EntryRefund           EntryKind = "refund"             // a refund was asked for
	EntryRefundUpdated    EntryKind = "refund_updated"     // the refund's latest state
	EntryCapture          EntryKind = "capture"            // a capture was asked for
	EntryCaptureFinished  EntryKind = "capture_finished"   // the acquirer's answer to it
	EntryDecrement        EntryKind = "decrement"          // a decrement was asked for
	EntryDecrementDone    EntryKind = "decrement_finished" // the acquirer's answer to it
	EntryNotification     EntryKind = "notification"       // a signed notification, with its delivery so far
	EntryOperatorAction   EntryKind = "operator_action"    // an operator approved, rejected, replayed...
)

// TimelineEntry is one thing that happened to an order. The field of its
// kind is set: Request; Command (with Event for progress and results);
// Reversal; Refund; Capture; Decrement; Notification; Action.
type TimelineEntry struct {
	At           time.Time
	Kind         EntryKind
	Request      *posgate.RequestRecord
	Command      *posgate.Command
	Event        *posgate.CommandEvent
	Reversal     *posgate.Reversal
	Refund       *posgate.Refund
	Capture      *posgate.Capture
	Decrement    *posgate.Decrement
	Notification *posgate.Notification
	Action       *posgate.OperatorAction
	// Late marks a result that arrived after the cloud had abandoned its
	// command: recorded, but it changed nothing.
	Late bool
	// Repeat marks a result the terminal sent again (its ack was lost).
	Repeat bool
}

// Timeline is an order and everything that happened to it, oldest first.
type Timeline struct {
	Order   posgate.Order
	Entries []TimelineEntry
}

// Timeline reads an order's history for operators. Unknown orders are
// posgate.ErrNotFound.
//
// The answer code of each request is not stored: a refused request rolls
// its transaction back and leaves no row, so every request here was
// accepted, and what came of it is in the entries that follow.
func (s *Service) Timeline(ctx context.Context, tradeID string) (Timeline, error) {
	var tl Timeline
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		o, err := tx.Order(tradeID)
		if err != nil {
			return err
		}
		tl = Timeline{Order: o}
		add := func(e TimelineEntry) { tl.Entries = append(tl.Entries, e) }

		reqs, err := tx.RequestsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range reqs {
			add(TimelineEntry{At: reqs[i].CreatedAt, Kind: EntryRequest, Request: &reqs[i]})
		}
		add(TimelineEntry{At: o.CreatedAt, Kind: EntryOrderCreated})

		cmds, err := tx.CommandsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range cmds {
			c := &cmds[i]
			add(TimelineEntry{At: c.CreatedAt, Kind: EntryCommand, Command: c})
			evs, err := tx.Events(c.ID)
			if err != nil {
				return err
			}
			results := 0
			for j := range evs {
				e := TimelineEntry{At: evs[j].At, Kind: EntryProgress, Command: c, Event: &evs[j]}
				if strings.HasPrefix(string(evs[j].Stage), string(posgate.ResultStage(""))) {
					e.Kind, e.Late, e.Repeat = EntryResult, c.State == posgate.CommandAbandoned, results > 0
					results++
				}
				add(e)
			}
			if c.State == posgate.CommandAbandoned && c.FinishedAt != nil {
				add(TimelineEntry{At: *c.FinishedAt, Kind: EntryAbandoned, Command: c})
			}
		}

		revs, err := tx.ReversalsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range revs {
			add(TimelineEntry{At: revs[i].CreatedAt, Kind: EntryReversal, Reversal: &revs[i]})
			if revs[i].FinishedAt != nil {
				add(TimelineEntry{At: *revs[i].FinishedAt, Kind: EntryReversalFinished, Reversal: &revs[i]})
			}
		}

		refunds, err := tx.RefundsForOrder(tradeID)
		if err != nil {
			return err
		}
		for i := range refunds {
			add(TimelineEntry{At: refunds[i].CreatedAt, Kind: EntryRefund, Refund: &refunds[i]})
			if refunds[i].UpdatedAt.After(refunds[i].CreatedAt) {
				add(TimelineEntry{At: refunds[i].UpdatedAt, Kind: EntryRefundUpdated, Refund: &refunds[i]})
			}
		}

		captures, err := tx.CapturesForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range captures {
			add(TimelineEntry{At: captures[i].CreatedAt, Kind: EntryCapture, Capture: &captures[i]})
			if captures[i].FinishedAt != nil {
				add(TimelineEntry{At: *captures[i].FinishedAt, Kind: EntryCaptureFinished, Capture: &captures[i]})
			}
		}

		decs, err := tx.DecrementsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range decs {
			add(TimelineEntry{At: decs[i].CreatedAt, Kind: EntryDecrement, Decrement: &decs[i]})
			if decs[i].FinishedAt != nil {
				add(TimelineEntry{At: *decs[i].FinishedAt, Kind: EntryDecrementDone, Decrement: &decs[i]})
			}
		}

		notes, err := tx.NotificationsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range notes {
			add(TimelineEntry{At: notes[i].CreatedAt, Kind: EntryNotification, Notification: &notes[i]})
		}

		acts, err := tx.OperatorActionsForTrade(tradeID)
		if err != nil {
			return err
		}
		for i := range acts {
			add(TimelineEntry{At: acts[i].At, Kind: EntryOperatorAction, Action: &acts[i]})
		}
		// Stable: entries of equal times keep the causal order they were
		// added in (the request before its order, a command before its
		// progress).
		slices.SortStableFunc(tl.Entries, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
		return nil
	})
	return tl, err
}

// Summary is the entry in one line for people.
func (e TimelineEntry) Summary(o posgate.Order) string {
	amount := func(minor int64, currency string) string {
		cur, _ := posgate.LookupCurrency(currency)
		return posgate.FormatAmount(minor, cur) + " " + currency
	}
	withMessage := func(s, msg string) string {
		if msg != "" {
			s += ": " + msg
		}
		return s
	}
	switch e.Kind {
	case EntryRequest:
		return fmt.Sprintf("%s request_id=%s by %s", e.Request.Method, e.Request.RequestID, e.Request.User)
	case EntryOrderCreated:
		op := "sale"
		if o.Operation == posgate.OpAuthorisation {
			op = "authorisation"
		}
		return fmt.Sprintf("order %s created: %s of %s on %s", o.OrderID, op, amount(o.Amount, o.Currency), o.TID)
	case EntryCommand:
		return fmt.Sprintf("%s command %s sent to %s", e.Command.Kind, e.Command.ID, e.Command.TID)
	case EntryProgress:
		return withMessage(fmt.Sprintf("terminal: %s", e.Event.Stage), e.Event.Message)
	case EntryResult:
		s := withMessage(fmt.Sprintf("%s result %s", e.Command.Kind, strings.TrimPrefix(string(e.Event.Stage), string(posgate.ResultStage("")))), e.Event.Message)
		switch {
		case e.Late:
			s += " (late: the cloud had abandoned the command, nothing changed)"
		case e.Repeat:
			s += " (repeat of a result already applied)"
		}
		return s
	case EntryAbandoned:
		return withMessage(fmt.Sprintf("%s command abandoned by the cloud (%s)", e.Command.Kind, e.Command.Outcome), e.Command.Message)
	case EntryReversal:
		return fmt.Sprintf("reversal %s started (request_id=%s)", e.Reversal.ID, e.Reversal.RequestID)
	case EntryReversalFinished:
		return withMessage(fmt.Sprintf("reversal %s", e.Reversal.State), e.Reversal.Reason)
	case EntryRefund:
		return fmt.Sprintf("refund %s of %s asked by %s", e.Refund.RefundID, amount(e.Refund.Amount, e.Refund.Currency), e.Refund.User)
	case EntryRefundUpdated:
		return withMessage(fmt.Sprintf("refund %s is %s", e.Refund.RefundID, e.Refund.State), e.Refund.Message)
	case EntryCapture:
		c := e.Capture
		return fmt.Sprintf("capture %s of %s (authorised %s) asked by %s", c.CaptureID, amount(c.Amount, c.Currency), amount(c.AuthorisedAmount, c.Currency), c.User)
	case EntryCaptureFinished:
		return withMessage(fmt.Sprintf("capture %s is %s", e.Capture.CaptureID, e.Capture.State), e.Capture.Message)
	case EntryDecrement:
		d := e.Decrement
		return fmt.Sprintf("decrement %s by %s asked by %s: authorised %s -> %s", d.DecrementID, amount(d.Amount, d.Currency), d.User,
			amount(d.Before, d.Currency), amount(d.After, d.Currency))
	case EntryDecrementDone:
		return withMessage(fmt.Sprintf("decrement %s is %s", e.Decrement.DecrementID, e.Decrement.State), e.Decrement.Message)
	case EntryNotification:
		n := e.Notification
		return withMessage(fmt.Sprintf("notification %s to %s: %s after %d attempts", n.ID, n.NotifyURL, DeliveryStatus(*n), n.Attempts), n.LastError)
	case EntryOperatorAction:
		a := e.Action
		what := map[posgate.Action]string{
			posgate.ActionRefundApprove: "approved refund", posgate.ActionRefundReject: "rejected refund",
			posgate.ActionNotificationReplay: "replayed notification",
		}[a.Action]
		if what == "" {
			what = string(a.Action)
		}
		return withMessage(fmt.Sprintf("operator %s %s %s", a.Operator, what, a.Subject), a.Detail)
	}
	return string(e.Kind)
}

// DeliveryStatus is how a notification's delivery stands: delivered,
// failing (tried and not delivered) or pending (not tried yet).
func DeliveryStatus(n posgate.Notification) string {
	switch {
	case n.DeliveredAt != nil:
		return "delivered"
	case n.Attempts > 0:
		return "failing"
	}
	return "pending"
}
