package payment

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/posgate/posgate"
)

// TerminalSecret implements termlink.Handler.
func (s *Service) TerminalSecret(ctx context.Context, tid string) (string, error) {
	c, err := s.Authenticate(ctx, tid)
	if err != nil {
		return "", err
	}
	if c.Kind != posgate.KindTerminal {
		return "", posgate.ErrNotFound
	}
	return c.Secret, nil
}

// UseNonce implements termlink.Handler.
func (s *Service) UseNonce(ctx context.Context, tid, nonce string, expires time.Time) error {
	return s.store.InTx(ctx, func(tx posgate.Tx) error { return tx.UseNonce(tid, nonce, expires, s.now()) })
}

// Connected implements termlink.Handler: the command in flight is sent
// again (the terminal's journal makes a repeat harmless), and an order
// whose card time ended meanwhile gets its abort; with none in flight, a
// queued command starts.
func (s *Service) Connected(ctx context.Context, tid string) {
	var cmd posgate.Command
	var o posgate.Order
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		if cmd, err = tx.InFlightCommand(tid); err != nil {
			return err
		}
		o, err = tx.Order(cmd.TradeID)
		return err
	})
	if errors.Is(err, posgate.ErrNotFound) {
		s.forward(ctx, tid)
		return
	}
	if err != nil {
		s.log.Error("resend in-flight command", "tid", tid, "err", err)
		return
	}
	if err := s.link.SendCommand(ctx, s.dispatchOf(cmd, o, s.now())); err != nil {
		s.log.Warn("resend in-flight command", "tid", tid, "command_id", cmd.ID, "err", err)
		return
	}
	s.mu.Lock()
	_, expiring := s.aborted[o.TradeID]
	s.mu.Unlock()
	if expiring {
		s.sendAbort(ctx, tid, cmd.ID, posgate.AbortExpired)
	}
}

// Disconnected implements termlink.Handler.
func (s *Service) Disconnected(string) {}

// progressReport is a progress event with the terminal that sent it.
type progressReport struct {
	tid string
	ev  posgate.CommandEvent
}

// Progress implements termlink.Handler. Progress is recorded through a
// batching writer: it is information, not an outcome, and one commit per
// screen change would cost more than the reversal itself. Only the
// terminal a command went to may report on it.
func (s *Service) Progress(ctx context.Context, tid string, p posgate.Progress) error {
	if w := s.waiterFor(p.CommandID); w != nil && w.tid == tid && p.Stage.Shown() {
		w.show()
	}
	ev := posgate.CommandEvent{CommandID: p.CommandID, Stage: p.Stage, Message: p.Message, At: s.now()}
	select {
	case s.progress <- progressReport{tid: tid, ev: ev}:
	default:
		s.log.Warn("progress queue full, event dropped", "tid", tid, "command_id", p.CommandID, "stage", p.Stage)
	}
	return nil
}

// progressGrace is how long after its result a command still takes
// progress: the batching writer may get a command's last stages after the
// result frame that followed them was applied.
const progressGrace = 30 * time.Second

func progressOpen(cmd posgate.Command, at time.Time) bool {
	return cmd.State == posgate.CommandInFlight || (cmd.FinishedAt != nil && at.Sub(*cmd.FinishedAt) < progressGrace)
}

// writeProgress commits queued progress events in groups until ctx ends,
// then flushes what is left. An event about a command that is not the
// sender's, long finished, or over MaxProgress is dropped alone, so one
// terminal can neither touch another's history, nor fill the disk, nor
// spoil the batch.
func (s *Service) writeProgress(ctx context.Context) {
	batch := make([]progressReport, 0, 256)
	stored := map[string]int{} // in-flight command id -> events stored
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Which events may be kept is read on a reader, off the single
		// writer that every payment waits for.
		bg := context.WithoutCancel(ctx)
		ids := make([]string, 0, len(batch))
		for _, r := range batch {
			ids = append(ids, r.ev.CommandID)
		}
		slices.Sort(ids)
		cmds := map[string]posgate.Command{}
		err := s.store.Read(bg, func(tx posgate.Tx) error {
			found, err := tx.CommandsByID(slices.Compact(ids))
			for _, cmd := range found {
				cmds[cmd.ID] = cmd
			}
			return err
		})
		var keep []posgate.CommandEvent
		var dropped []progressReport
		for _, r := range batch {
			cmd, ok := cmds[r.ev.CommandID]
			if !ok || cmd.TID != r.tid || !progressOpen(cmd, r.ev.At) || stored[cmd.ID] >= s.cfg.MaxProgress {
				dropped = append(dropped, r)
				continue
			}
			stored[cmd.ID]++
			keep = append(keep, r.ev)
		}
		if err == nil && len(keep) > 0 {
			err = s.store.InTx(bg, func(tx posgate.Tx) error { return tx.InsertEvent(keep...) })
		}
		if err != nil {
			s.log.Error("record progress", "events", len(batch), "err", err)
		}
		for _, r := range dropped {
			s.log.Warn("progress refused: not a running command of this terminal, or too many events", "tid", r.tid, "command_id", r.ev.CommandID, "stage", r.ev.Stage)
		}
		if len(stored) > 100_000 {
			clear(stored) // finished commands pile up here; the cap restarts for the rest
		}
		batch = batch[:0]
	}
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case r := <-s.progress:
					batch = append(batch, r)
				default:
					flush()
					return
				}
			}
		case r := <-s.progress:
			batch = append(batch, r)
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-s.progress:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			flush()
		}
	}
}

// Result implements termlink.Handler: it applies a command's final result
// exactly once, in one transaction with the order's change and its
// notification. A repeat (the terminal re-sending after a lost ack) finds
// the command finished and changes nothing.
func (s *Service) Result(ctx context.Context, tid string, r posgate.Result) error {
	now := s.now()
	var applied, queued posgate.Command
	var order, queuedOrder posgate.Order
	var fresh, late bool
	var abandoned *posgate.Command // the command a late result came for
	var reconciled posgate.Reconciliation
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		applied, queued, fresh, late, abandoned, reconciled = posgate.Command{}, posgate.Command{}, false, false, nil, ""
		// The writes below go in one round trip with the next read or the
		// commit.
		tx.DeferWrites()
		cc, err := tx.CommandForResult(r.CommandID)
		cmd := cc.Command
		if errors.Is(err, posgate.ErrNotFound) || (err == nil && cmd.TID != tid) {
			s.log.Warn("result for an unknown command", "tid", tid, "command_id", r.CommandID)
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.InsertEvent(posgate.CommandEvent{CommandID: cmd.ID, Stage: posgate.ResultStage(r.Outcome), Message: r.Message, At: now}); err != nil {
			return err
		}
		if cmd.State == posgate.CommandAbandoned {
			if results, err := tx.Events(cmd.ID); err == nil && !repeatedResult(results) {
				abandoned = &cmd
			} else if err != nil {
				return err
			}
			late, err = s.lateResult(tx, cmd, cc.Order, r, now)
			return err
		}
		if cmd.State != posgate.CommandInFlight {
			return nil // a repeat of a result applied, or a command not started
		}
		cmd.State = posgate.CommandDone
		cmd.Outcome = r.Outcome
		cmd.TransactionID = r.TransactionID
		cmd.Message = r.Message
		cmd.Receipt = r.Receipt
		cmd.FinishedAt = &now
		ok, err := tx.FinishCommand(cmd)
		if err != nil || !ok {
			return err
		}
		if order, reconciled, err = s.applyOutcome(tx, cmd, cc.Order, cc.Reversal, now); err != nil {
			return err
		}
		applied, fresh = cmd, true
		// The terminal has no command in flight now (the one just
		// finished was its one), so a queued one starts in this same
		// transaction rather than in one of its own.
		if !cc.Queued {
			return nil
		}
		if queued, queuedOrder, err = startQueued(tx, tid); errors.Is(err, posgate.ErrNotFound) {
			queued, err = posgate.Command{}, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if abandoned != nil {
		s.obs.LateResult(abandoned.Kind, r.Outcome)
	}
	if fresh {
		s.obs.CommandFinished(applied.Kind, string(applied.Outcome), now.Sub(applied.CreatedAt))
		s.mu.Lock()
		delete(s.aborted, applied.TradeID)
		s.mu.Unlock()
		if w := s.waiterFor(applied.ID); w != nil {
			w.finish(applied, &order)
		}
	}
	if late {
		s.late.add(posgate.LateApprovalReversing)
	}
	if reconciled != "" {
		s.late.add(reconciled)
		s.log.Warn("late approval reversal finished", "trade_id", applied.TradeID, "outcome", applied.Outcome, "reconciliation", reconciled)
	}
	if queued.ID != "" {
		s.sendStarted(ctx, queued, queuedOrder)
	}
	if late {
		// The terminal reported an abandoned command: the reversal just
		// queued, or an older one, may go if it is free.
		s.forward(ctx, tid)
	}
	return nil
}

// applyOutcome moves the command's order o (and reversal rev, nil when
// the command has none), read in tx, by its result, and returns the
// order as it now stands; reconciled is set when the result finished the
// reversal of a late approval.
func (s *Service) applyOutcome(tx posgate.Tx, cmd posgate.Command, o posgate.Order, rev *posgate.Reversal, now time.Time) (_ posgate.Order, reconciled posgate.Reconciliation, err error) {
	var next posgate.Order
	var changed bool
	switch cmd.Kind {
	case posgate.CommandReversal:
		if rev == nil {
			return o, "", posgate.ErrNotFound
		}
		rev.State = posgate.ReversalDeclined
		if cmd.Outcome == posgate.OutcomeApproved {
			rev.State = posgate.ReversalApproved
		}
		rev.Reason = cmd.Message
		rev.FinishedAt = &now
		if err := tx.UpdateReversal(*rev); err != nil {
			return o, "", err
		}
		if rev.Origin == posgate.ReversalOfLateApproval {
			next, changed = posgate.LateReversalOutcome(o, cmd.Outcome, now)
			reconciled = next.Reconciliation
			break
		}
		next, changed = posgate.ReversalOutcome(o, cmd.Outcome, now)
	default:
		next, changed = posgate.SaleOutcome(o, o.Operation, cmd.Outcome, cmd.TransactionID, cmd.Receipt, now)
	}
	if !changed {
		if cmd.Kind != posgate.CommandReversal {
			s.log.Warn("sale result for an order that already left processing", "trade_id", o.TradeID, "state", o.State, "outcome", cmd.Outcome)
		}
		return o, "", nil
	}
	next, err = s.saveOrder(tx, next)
	return next, reconciled, err
}

// repeatedResult reports whether a command's events hold more than one
// result: the one just recorded is not the first.
func repeatedResult(evs []posgate.CommandEvent) bool {
	n := 0
	for _, e := range evs {
		if strings.HasPrefix(string(e.Stage), string(posgate.ResultStage(""))) {
			n++
		}
	}
	return n > 1
}
