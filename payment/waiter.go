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

// await waits until ch is closed, at most d; timedOut says d passed first.
func await(ctx context.Context, ch <-chan struct{}, d time.Duration) (timedOut bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return false, nil
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
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
