package payment

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posgate/posgate"
)

// waiter lets an API call wait for a command's progress and result. It is
// registered before the command is sent, so a fast terminal cannot answer
// before anyone listens.
type waiter struct {
	tid       string        // the terminal the command went to: only it may move the waiter
	shown     chan struct{} // closed when the terminal shows the command, or finishes it
	done      chan struct{} // closed when the result is applied
	shownOnce sync.Once
	doneOnce  sync.Once
	displayed atomic.Bool // the terminal reported showing the command
	result    posgate.Command
	// order is the command's order as the transaction that applied the
	// result committed it, when this process applied it: the caller has
	// no need to read it again.
	order *posgate.Order
}

func (s *Service) register(cmd posgate.Command) *waiter {
	w := &waiter{tid: cmd.TID, shown: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.waiters[cmd.ID] = w
	s.mu.Unlock()
	return w
}

// dispatch registers a waiter for cmd, then sends it. A failed send is
// not an error: the committed command is sent again when the terminal
// reconnects. The caller unregisters.
func (s *Service) dispatch(ctx context.Context, cmd posgate.Command, o posgate.Order, now time.Time) *waiter {
	w := s.register(cmd)
	if err := s.link.SendCommand(ctx, s.dispatchOf(cmd, o, now)); err != nil {
		s.log.Warn("command not delivered yet", "tid", cmd.TID, "command_id", cmd.ID, "kind", cmd.Kind, "err", err)
	}
	return w
}

// await waits until ch is closed, at most d; timedOut says d passed
// first, or that the gateway ended its waits (EndWaits).
func (s *Service) await(ctx context.Context, ch <-chan struct{}, d time.Duration) (timedOut bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return false, nil
	case <-t.C:
		return true, nil
	case <-s.waitsEnded:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// EndWaits makes every API call waiting for a terminal, and every one
// that starts waiting from now on, stop waiting as if its wait time had
// passed: each answers what it would at its timeout (-4203), and the
// terminal's outcome follows by notification and v3.QueryOrder as usual.
// A draining gateway calls it when its grace period ends. Calling it
// again does nothing.
func (s *Service) EndWaits() {
	s.endWaits.Do(func() { close(s.waitsEnded) })
}

// finish completes the waiter with its command's result and, when known,
// the order as that result left it; only the first call counts.
func (w *waiter) finish(cmd posgate.Command, o *posgate.Order) {
	w.doneOnce.Do(func() {
		w.result, w.order = cmd, o
		w.shownOnce.Do(func() { close(w.shown) })
		close(w.done)
	})
}

// show marks the command as shown by its terminal.
func (w *waiter) show() {
	w.displayed.Store(true)
	w.shownOnce.Do(func() { close(w.shown) })
}

// awaitCommand waits like await for ch, one of w's channels; with
// Config.WaitPoll set it also re-reads the command (and, when shown is
// true, its progress) from the database at that pace, so a result or a
// progress recorded by another gateway wakes w without a doorbell.
func (s *Service) awaitCommand(ctx context.Context, w *waiter, commandID string, ch <-chan struct{}, shown bool, d time.Duration) (timedOut bool, err error) {
	if s.cfg.WaitPoll <= 0 {
		return s.await(ctx, ch, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	poll := time.NewTicker(s.cfg.WaitPoll)
	defer poll.Stop()
	for {
		select {
		case <-ch:
			return false, nil
		case <-t.C:
			return true, nil
		case <-s.waitsEnded:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-poll.C:
			if err := s.refresh(ctx, w, commandID, shown); err != nil && ctx.Err() == nil {
				s.log.Warn("re-read command while waiting", "command_id", commandID, "err", err)
			}
		}
	}
}

// refresh completes w from the database: the command's result if it is
// done, and, with shown, a progress event saying its terminal shows it.
func (s *Service) refresh(ctx context.Context, w *waiter, commandID string, shown bool) error {
	var cmd posgate.Command
	var events []posgate.CommandEvent
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		if cmd, err = tx.Command(commandID); err != nil {
			return err
		}
		if shown {
			events, err = tx.Events(commandID)
		}
		return err
	})
	if err != nil {
		return err
	}
	if cmd.TID != w.tid {
		return nil
	}
	for _, ev := range events {
		if ev.Stage.Shown() {
			w.show()
			break
		}
	}
	if cmd.State == posgate.CommandDone {
		w.finish(cmd, nil)
	}
	return nil
}

// CommandFinished is a doorbell: another gateway applied the result of
// commandID. A call of this process waiting for that command re-reads it
// from the database and completes; without a waiter it does nothing, and
// a repeat or a false ring changes nothing (the database decides).
func (s *Service) CommandFinished(ctx context.Context, commandID string) error {
	w := s.waiterFor(commandID)
	if w == nil {
		return nil
	}
	return s.refresh(ctx, w, commandID, false)
}

// CommandShown is a doorbell: the terminal tid, connected to another
// gateway, reports that it shows commandID. A v3.POS of this process
// waiting for that command returns; only the command's own terminal
// counts, as in Progress.
func (s *Service) CommandShown(commandID, tid string) {
	if w := s.waiterFor(commandID); w != nil && w.tid == tid {
		w.show()
	}
}

// Resend sends commandID to its terminal again if it is still in flight:
// a cluster's gateway holding the terminal's connection calls it when
// another gateway created the command. A repeat is harmless (the terminal
// dedupes by command id).
func (s *Service) Resend(ctx context.Context, commandID string) error {
	var cmd posgate.Command
	var o posgate.Order
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		if cmd, err = tx.Command(commandID); err != nil {
			return err
		}
		o, err = tx.Order(cmd.TradeID)
		return err
	})
	if err != nil || cmd.State != posgate.CommandInFlight {
		return err
	}
	return s.link.SendCommand(ctx, s.dispatchOf(cmd, o, s.now()))
}

func (s *Service) unregister(commandID string) {
	s.mu.Lock()
	delete(s.waiters, commandID)
	s.mu.Unlock()
}

func (s *Service) waiterFor(commandID string) *waiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters[commandID]
}

// dispatchOf is cmd as its terminal needs it. A sale's card timeout is
// what is left of the order's life, so a command re-sent after a
// reconnect does not outlive its order.
func (s *Service) dispatchOf(cmd posgate.Command, o posgate.Order, now time.Time) posgate.Dispatch {
	d := posgate.Dispatch{Command: cmd, Order: o}
	if cmd.Kind != posgate.CommandReversal {
		d.CardTimeout = s.cfg.SaleTimeout
		if left := o.ExpiresAt.Sub(now); left > 0 && left < s.cfg.SaleTimeout {
			d.CardTimeout = left
		}
	}
	return d
}

func (s *Service) sendAbort(ctx context.Context, tid, commandID string, reason posgate.AbortReason) {
	if err := s.link.SendAbort(ctx, tid, commandID, reason); err != nil {
		s.log.Info("abort not delivered", "tid", tid, "command_id", commandID, "reason", reason, "err", err)
	}
}
