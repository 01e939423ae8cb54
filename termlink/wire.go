package termlink

import (
	"fmt"
	"net/http"
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
	// (coder/websocket): simpler, portable, and about twice the memory
	// per idle terminal (docs/benchmarks.md, "Idle terminals").
	IOGoroutine = "goroutine"
)

// DefaultIO is the transport a Config with no IO gets.
const DefaultIO = IOPoller

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
	// stop ends the transport's own goroutines, after every connection
	// was closed.
	stop()
}

func newTransport(h *Hub, io string) (transport, error) {
	switch io {
	case IOPoller:
		return newPoller(h), nil
	case IOGoroutine:
		return goroutines{h}, nil
	}
	return nil, fmt.Errorf("termlink: unknown terminal IO %q: %s or %s", io, IOPoller, IOGoroutine)
}
