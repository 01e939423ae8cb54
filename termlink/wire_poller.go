package termlink

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/posgate/posgate/termproto"
)

// poller is the IOPoller transport. net/http still accepts the upgrade
// request; the hijacked TCP connection is then handed to nbio's poller,
// which reads every terminal into one shared buffer per poll loop and
// runs each connection's frames in order on a worker pool. A frame's
// bytes are the pool's: the hub decodes them before it returns.
type poller struct {
	h        *Hub
	engine   *nbhttp.Engine
	template websocket.Upgrader
	// The poll loops start with the first terminal, so that a process
	// that never serves one (an operator command) runs none.
	start    sync.Once
	startErr error
	started  atomic.Bool
}

// pollerWriteBuffer bounds what nbio queues for a terminal that does not
// read: past it the connection is closed, like a write past writeTimeout.
const pollerWriteBuffer = 256 << 10

// pollerReadLimit bounds what nbio buffers of one message: well above a
// valid frame, so that an oversized one is still read whole and refused
// with a clean close.
const pollerReadLimit = 4 * termproto.MaxFrameBytes

// closeWait is how long a close frame waits for the peer's answer before
// the connection is cut.
const closeWait = time.Second

func newPoller(h *Hub) *poller {
	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "termlink",
		SupportServerOnly:       true,
		ReleaseWebsocketPayload: true,
		MaxWriteBufferSize:      pollerWriteBuffer,
	})
	// The hub checks UTF-8 itself, to close with 1007 and an error frame
	// as docs/terminal-protocol.md says, where nbio would close with 1002.
	engine.CheckUtf8 = func([]byte) bool { return true }
	// nbio logs through one logger per process; the last hub made names it.
	nbioLogger.Store(h.log)
	nbioLogOnce.Do(func() { logging.SetLogger(nbioLog{}) })
	u := websocket.NewUpgrader()
	u.Engine = engine
	u.Subprotocols = []string{termproto.Subprotocol}
	// As for IOGoroutine: terminals authenticate with a signed hello, and
	// embedded browsers on some terminals send their own Origin.
	u.CheckOrigin = func(*http.Request) bool { return true }
	// The hub refuses a message over termproto.MaxFrameBytes itself, once
	// read, with the close handshake; nbio stops reading at pollerReadLimit,
	// where it sends 1009 and cuts the connection at once.
	u.MessageLengthLimit = pollerReadLimit
	u.KeepaliveTime = 0 // the hub's own timer watches for silence
	u.EnableCompression(false)
	return &poller{h: h, engine: engine, template: *u}
}

func (p *poller) upgrade(w http.ResponseWriter, r *http.Request, c *conn) (wire, error) {
	p.start.Do(func() {
		p.startErr = p.engine.Start()
		p.started.Store(p.startErr == nil)
	})
	if p.startErr != nil {
		http.Error(w, "terminal transport unavailable", http.StatusServiceUnavailable)
		return nil, p.startErr
	}
	// An upgrader per connection, because its handlers must know c before
	// the first message can arrive: that may happen before Upgrade
	// returns. The copy (about 250 bytes) stays with the connection.
	u := p.template
	pw := new(pollerWire)
	u.OnMessage(func(_ *websocket.Conn, typ websocket.MessageType, b []byte) {
		c.waitSetup()
		p.h.receive(c, typ == websocket.TextMessage, b)
	})
	u.SetCloseHandler(func(ws *websocket.Conn, code int, reason string) {
		// The peer's close: answer it unless it answers the hub's own,
		// then nbio closes the connection.
		if !pw.closing.Swap(true) {
			_ = ws.WriteClose(code, reason)
		}
	})
	u.OnClose(func(_ *websocket.Conn, err error) {
		c.waitSetup()
		if pw.outer != nil {
			_ = pw.outer.Close() // gives back the listener's slot
		}
		p.h.ended(c, err)
	})
	ws, err := u.UpgradeAndTransferConnToPoller(unwrapping{w, pw}, r, nil)
	if err != nil {
		if pw.outer != nil {
			_ = pw.outer.Close()
		}
		return nil, err
	}
	pw.ws = ws
	return pw, nil
}

func (p *poller) ended(*conn) {}

func (p *poller) stop() {
	p.start.Do(func() {}) // no start after the stop
	if p.started.Load() {
		p.engine.Stop()
	}
}

type pollerWire struct {
	ws      *websocket.Conn
	closing atomic.Bool // a close frame was sent
	// outer is the listener's wrapper around the TCP connection nbio took
	// over; it is closed when the connection ends.
	outer net.Conn
}

// unwrapping hands nbio the TCP connection inside a listener's wrapper
// (the server's connection cap wraps every connection it counts): nbio
// can only poll a *net.TCPConn and serves anything else with a reading
// goroutine. A wrapper says what it wraps with a NetConn method, as
// *tls.Conn does; TLS itself stays wrapped, since its bytes need the
// wrapper to be read.
type unwrapping struct {
	http.ResponseWriter
	pw *pollerWire
}

func (u unwrapping) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := u.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("termlink: the connection cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if _, isTLS := nc.(*tls.Conn); !isTLS {
		if w, ok := nc.(interface{ NetConn() net.Conn }); ok {
			if tcp, ok := w.NetConn().(*net.TCPConn); ok {
				u.pw.outer, nc = nc, tcp
			}
		}
	}
	return nc, brw, nil
}

func (w *pollerWire) Subprotocol() string { return w.ws.Subprotocol() }

func (w *pollerWire) Write(b []byte) error {
	// nbio writes what the socket takes and queues the rest; the deadline
	// closes the connection if the queue is not written in time.
	_ = w.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.ws.WriteMessage(websocket.TextMessage, b)
}

func (w *pollerWire) Close(code int, reason string) {
	if w.closing.Swap(true) {
		return
	}
	if err := w.ws.WriteClose(code, reason); err != nil {
		_ = w.ws.Close()
		return
	}
	time.AfterFunc(closeWait, func() { _ = w.ws.Close() })
}

func (w *pollerWire) CloseNow() { _ = w.ws.Close() }

// nbioLog hands nbio's log lines to the logger of the hub made last. Its
// start and stop lines are debug here: the gateway logs its own.
type nbioLog struct{}

var (
	nbioLogger  atomic.Pointer[slog.Logger]
	nbioLogOnce sync.Once
)

func (nbioLog) Debug(format string, v ...any) {
	nbioLogger.Load().Debug("nbio: " + fmt.Sprintf(format, v...))
}
func (nbioLog) Info(format string, v ...any) {
	nbioLogger.Load().Debug("nbio: " + fmt.Sprintf(format, v...))
}
func (nbioLog) Warn(format string, v ...any) {
	nbioLogger.Load().Warn("nbio: " + fmt.Sprintf(format, v...))
}
func (nbioLog) Error(format string, v ...any) {
	nbioLogger.Load().Error("nbio: " + fmt.Sprintf(format, v...))
}
