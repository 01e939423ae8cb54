package termlink

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// The terminal transports: how the hub reads its connections.
const (
	// IOPoller reads every connection from a few epoll (kqueue) loops
	// and runs a connection's frames, in order, on a shared worker pool
	// (lesismal/nbio): an idle terminal owns no goroutine and no read
	// buffer. TLS connections the server terminates itself cannot be
	// handed to the poller and get a reading goroutine each, as with
	// IOGoroutine.
	IOPoller = "poller"
	// IOGoroutine gives every connection a goroutine blocked in its read
	// (coder/websocket): portable, about six times the memory per idle
	// terminal, and a shorter path for each frame, which on a busy machine
	// makes about a fifth more payments a second (docs/benchmarks.md).
	IOGoroutine = "goroutine"
	// IOAuto serves the first Config.GoroutineConns connections as
	// IOGoroutine and the ones beyond with IOPoller: a gateway with few
	// terminals gets the shorter path, a fleet's node the small memory.
	IOAuto = "auto"
)

// DefaultIO is the transport a Config with no IO gets.
const DefaultIO = IOAuto

// DefaultGoroutineConns is how many connections IOAuto serves with a
// goroutine each: about 34 MiB at most.
const DefaultGoroutineConns = 1000

// wire carries one terminal's WebSocket, whichever library reads it. The
// hub never reads a wire: its transport delivers the messages, in order,
// to Hub.receive and the wire's end to Hub.ended.
type wire interface {
	// Subprotocol is the subprotocol the upgrade agreed, "" for none.
	Subprotocol() string
	// Write sends one text message. A terminal that cannot take it within
	// writeTimeout is treated as gone: its connection is closed.
	Write(b []byte) error
	// Close sends a close frame with code and reason and ends the
	// connection once the peer answered it or after a short wait.
	Close(code int, reason string)
	// CloseNow ends the connection without a close frame.
	CloseNow()
}

// transport upgrades terminal requests into wires.
type transport interface {
	// upgrade answers the upgrade request. Once it returns a wire, the
	// connection's messages go to Hub.receive and its end to Hub.ended,
	// each call made only after c.setup is unlocked. On an error the
	// request was answered and nothing will be delivered about c.
	upgrade(w http.ResponseWriter, r *http.Request, c *conn) (wire, error)
	// ended is told that c, which it upgraded, is over.
	ended(c *conn)
	// stop ends the transport's own goroutines, after every connection
	// was closed.
	stop()
}

func newTransport(h *Hub, io string, goroutineConns int) (transport, error) {
	switch io {
	case IOPoller:
		return newPoller(h), nil
	case IOGoroutine:
		return goroutines{h}, nil
	case IOAuto:
		return &mixed{goroutines: goroutines{h}, poller: newPoller(h), limit: int64(goroutineConns)}, nil
	}
	return nil, fmt.Errorf("termlink: unknown terminal IO %q: %s, %s or %s", io, IOAuto, IOPoller, IOGoroutine)
}

// mixed is the IOAuto transport: goroutines up to limit connections at
// once, the poller beyond. A connection keeps the transport it got.
type mixed struct {
	goroutines goroutines
	poller     *poller
	limit      int64
	n          atomic.Int64 // connections the goroutines serve
}

func (m *mixed) upgrade(w http.ResponseWriter, r *http.Request, c *conn) (wire, error) {
	if m.n.Add(1) > m.limit {
		m.n.Add(-1)
		return m.poller.upgrade(w, r, c)
	}
	wire, err := m.goroutines.upgrade(w, r, c)
	if err != nil {
		m.n.Add(-1)
	}
	return wire, err
}

func (m *mixed) ended(c *conn) {
	if _, ok := c.w.(coderWire); ok {
		m.n.Add(-1)
	}
}

func (m *mixed) stop() { m.poller.stop() }
