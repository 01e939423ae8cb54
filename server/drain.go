package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Defaults of Drain.
const (
	DefaultDrainGrace  = 20 * time.Second
	DefaultDrainSpread = 5 * time.Second
)

// Drain is how a gateway leaves when its context ends (SIGTERM): without
// failing the merchant calls it serves, and without sending all its
// terminals to the other gateways at the same instant.
type Drain struct {
	// Grace bounds how long the merchant calls already running may still
	// wait for their terminals (20 s); then each answers what it would at
	// its own timeout (-4203). Keep it about 15 s below the
	// orchestrator's kill timeout (Kubernetes:
	// terminationGracePeriodSeconds, 30 s): the reconnect frames' close
	// handshakes and the shutdown come after it.
	Grace time.Duration
	// Spread is the window over which the gateway's terminals are told to
	// reconnect, each at its own random moment (5 s).
	Spread time.Duration
}

func (d Drain) withDefaults() Drain {
	if d.Grace <= 0 {
		d.Grace = DefaultDrainGrace
	}
	if d.Spread <= 0 {
		d.Spread = DefaultDrainSpread
	}
	return d
}

// calls counts the merchant calls (POST /Payments) being served, so that
// a draining gateway knows when the last one was answered.
type calls struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; nil while n is 0
}

func (c *calls) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/Payments" {
			next.ServeHTTP(w, r)
			return
		}
		c.mu.Lock()
		if c.n == 0 {
			c.none = make(chan struct{})
		}
		c.n++
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			if c.n--; c.n == 0 {
				close(c.none)
				c.none = nil
			}
			c.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// wait returns true once no call is being served, false if ctx ends first.
func (c *calls) wait(ctx context.Context) bool {
	c.mu.Lock()
	none := c.none
	c.mu.Unlock()
	if none == nil {
		return true
	}
	select {
	case <-none:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain runs the gateway's departure while its listener still serves:
// /readyz answers 503 and new terminals and merchant calls are refused;
// the calls already running are answered (by their terminals, or -4203
// once the grace is over); then the terminals are told to reconnect,
// spread over time. The caller then shuts the server, the hub and the
// node down, which releases the node's presence.
func (g *Gateway) drain() {
	g.draining.Store(true)
	g.Hub.Drain()
	g.log.Info("draining: new terminals and merchant calls are refused, /readyz answers 503",
		"grace", g.drainCfg.Grace.String(), "spread", g.drainCfg.Spread.String())
	grace, cancel := context.WithTimeout(context.Background(), g.drainCfg.Grace)
	defer cancel()
	if !g.calls.wait(grace) {
		g.log.Warn("drain grace over: merchant calls still waiting for their terminal answer -4203; the outcome follows by notification")
		g.Service.EndWaits()
		// They answer at once; a store call in progress gets a moment.
		last, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.calls.wait(last)
	}
	// The frames are small; a terminal that cannot take one in time is
	// closed without it and reconnects on its own backoff.
	told, cancelTold := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelTold()
	n := g.Hub.Reconnect(told, g.drainCfg.Spread)
	g.log.Info("drained: terminals told to reconnect", "terminals", n)
}
