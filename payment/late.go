package payment

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/posgate/posgate"
)

// lateResult handles a result for a command the cloud had abandoned (the
// order expired at the reconciliation deadline, or a silent cancel won):
// the merchant was told the order was not paid. An approval means the
// customer was charged anyway, so the gateway reverses it on the terminal
// rather than applying it: the merchant has acted on "not paid" (the
// customer left, paid otherwise, or the goods stayed), and a reversal
// returns the money the same day without a refund's fees. The order keeps
// its state, records the approval and is notified; the reversal is
// queued for the terminal and sent whenever it is free and online. late
// is true when a reversal was queued. A repeat finds the order marked and
// does nothing. o is the command's order as tx read it.
func (s *Service) lateResult(tx posgate.Tx, cmd posgate.Command, o posgate.Order, r posgate.Result, now time.Time) (late bool, err error) {
	if r.Outcome != posgate.OutcomeApproved || cmd.Kind == posgate.CommandReversal {
		s.log.Info("late result for an abandoned command: nothing was charged", "tid", cmd.TID, "command_id", cmd.ID, "trade_id", cmd.TradeID, "outcome", r.Outcome)
		return false, nil
	}
	next, ok := posgate.LateApproval(o, r.TransactionID, r.Receipt, now)
	if !ok {
		return false, nil
	}
	if _, err := s.saveOrder(tx, next); err != nil {
		return false, err
	}
	rev := posgate.Command{ID: newID(), TID: cmd.TID, Kind: posgate.CommandReversal, TradeID: o.TradeID, State: posgate.CommandQueued, CreatedAt: now}
	if err := tx.InsertCommand(rev); err != nil {
		return false, err
	}
	err = tx.InsertReversal(posgate.Reversal{ID: newID(), TradeID: o.TradeID, TID: cmd.TID, CommandID: rev.ID,
		State: posgate.ReversalInFlight, Origin: posgate.ReversalOfLateApproval, CreatedAt: now})
	if err != nil {
		return false, err
	}
	s.log.Warn("late approval: the order was settled as not paid, its approval is being reversed on the terminal",
		"tid", cmd.TID, "trade_id", o.TradeID, "state", o.State, "transaction_id", r.TransactionID, "reversal_command_id", rev.ID)
	return true, nil
}

// forward starts the terminal's oldest queued command when it has none in
// flight, and sends it. A terminal that is offline, or busy, gets it when
// it reconnects or reports its current command; the command is in the
// database either way, and the terminal dedupes repeats by command id.
func (s *Service) forward(ctx context.Context, tid string) {
	var cmd posgate.Command
	var o posgate.Order
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		var err error
		cmd, o, err = startQueued(tx, tid)
		return err
	})
	switch {
	case errors.Is(err, posgate.ErrNotFound), errors.Is(err, posgate.ErrTerminalBusy):
		return
	case err != nil:
		s.log.Error("start queued command", "tid", tid, "err", err)
		return
	}
	s.sendStarted(ctx, cmd, o)
}

// startQueued moves the terminal's oldest queued command to in flight, in
// tx, and returns it with its order: ErrNotFound when none is queued,
// ErrTerminalBusy when the terminal has a command in flight.
func startQueued(tx posgate.Tx, tid string) (posgate.Command, posgate.Order, error) {
	cmd, err := tx.NextQueuedCommand(tid)
	if err != nil {
		return cmd, posgate.Order{}, err
	}
	started, err := tx.StartCommand(cmd.ID)
	if err != nil || !started {
		return cmd, posgate.Order{}, errors.Join(err, posgate.ErrTerminalBusy)
	}
	cmd.State = posgate.CommandInFlight
	o, err := tx.Order(cmd.TradeID)
	return cmd, o, err
}

// sendStarted sends a command startQueued started.
func (s *Service) sendStarted(ctx context.Context, cmd posgate.Command, o posgate.Order) {
	if err := s.link.SendCommand(ctx, s.dispatchOf(cmd, o, s.now())); err != nil {
		s.log.Info("queued command not delivered yet", "tid", cmd.TID, "command_id", cmd.ID, "err", err)
	}
}

// lateCounts counts late approvals by what became of them, for the
// metrics.
type lateCounts struct {
	mu sync.Mutex
	n  map[posgate.Reconciliation]int64
}

func (c *lateCounts) add(r posgate.Reconciliation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[posgate.Reconciliation]int64{}
	}
	c.n[r]++
}

// LateApprovals counts, since start, the late approvals this process
// began to reverse (posgate.LateApprovalReversing) and the reversals it
// saw finish (posgate.LateApprovalReversed, LateApprovalNotReversed).
func (s *Service) LateApprovals() map[posgate.Reconciliation]int64 {
	s.late.mu.Lock()
	defer s.late.mu.Unlock()
	out := make(map[posgate.Reconciliation]int64, 3)
	for _, r := range []posgate.Reconciliation{posgate.LateApprovalReversing, posgate.LateApprovalReversed, posgate.LateApprovalNotReversed} {
		out[r] = s.late.n[r]
	}
	return out
}
