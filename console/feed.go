package console

import (
	"context"
	"sync"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termlink"
)

// Feed tells the console's live pages which terminals and orders changed.
// It sits between the terminal link and the gateway's handler, so it sees
// each connect, disconnect, progress and result as it happens, including
// the progress the gateway writes to the database only in batches; and
// between the payment service (and notification delivery) and the store,
// so it sees every order whose history a committed transaction wrote.
type Feed struct {
	mu      sync.Mutex
	subs    map[*subscription]struct{}
	screens map[string]posgate.Progress // tid -> the last stage reported
	closed  bool
}

// NewFeed returns a feed with no subscribers.
func NewFeed() *Feed {
	return &Feed{subs: map[*subscription]struct{}{}, screens: map[string]posgate.Progress{}}
}

// subscription coalesces changes: a slow page gets each changed terminal
// once, never a backlog, and never misses one.
type subscription struct {
	dirty  map[string]bool // terminals
	orders map[string]bool // trade ids
	signal chan struct{}   // capacity 1: "something is dirty"
	done   chan struct{}   // closed by Close
}

// Watch returns h with f told of what the link reports.
func (f *Feed) Watch(h termlink.Handler) termlink.Handler { return watched{h, f} }

// Close ends every subscription: the gateway calls it when shutting down,
// as streams would otherwise hold their connections open.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		for s := range f.subs {
			close(s.done)
		}
	}
}

func (f *Feed) subscribe() (*subscription, func()) {
	s := &subscription{dirty: map[string]bool{}, orders: map[string]bool{}, signal: make(chan struct{}, 1), done: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(s.done)
	} else {
		f.subs[s] = struct{}{}
	}
	return s, func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
}

// take returns the terminals and the orders changed since the last take.
func (f *Feed) take(s *subscription) (tids, tradeIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tid := range s.dirty {
		tids = append(tids, tid)
	}
	for id := range s.orders {
		tradeIDs = append(tradeIDs, id)
	}
	clear(s.dirty)
	clear(s.orders)
	return tids, tradeIDs
}

// screen is the last stage tid reported, as the link saw it.
func (f *Feed) screen(tid string) (posgate.Progress, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.screens[tid]
	return p, ok
}

func (f *Feed) changed(tid string, p *posgate.Progress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p != nil {
		f.screens[tid] = *p
	}
	for s := range f.subs {
		s.dirty[tid] = true
		s.wake()
	}
}

// ordersChanged marks orders whose history was written.
func (f *Feed) ordersChanged(tradeIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, id := range tradeIDs {
			s.orders[id] = true
		}
		s.wake()
	}
}

func (s *subscription) wake() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

type watched struct {
	termlink.Handler
	feed *Feed
}

func (w watched) Connected(ctx context.Context, tid string) {
	w.Handler.Connected(ctx, tid)
	w.feed.changed(tid, nil)
}

func (w watched) Disconnected(tid string) {
	w.Handler.Disconnected(tid)
	w.feed.changed(tid, nil)
}

func (w watched) Progress(ctx context.Context, tid string, p posgate.Progress) error {
	err := w.Handler.Progress(ctx, tid, p)
	w.feed.changed(tid, &p)
	return err
}

func (w watched) Result(ctx context.Context, tid string, r posgate.Result) error {
	err := w.Handler.Result(ctx, tid, r)
	if err == nil {
		w.feed.changed(tid, &posgate.Progress{CommandID: r.CommandID, Stage: posgate.ResultStage(r.Outcome), Message: r.Message})
	}
	return err
}
