package server

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPLimits bounds what one client can hold of the HTTP server: each
// phase of a connection has a deadline, and a listener serves at most
// MaxConns connections at once. Zero values take the defaults shown.
type HTTPLimits struct {
	// ReadHeaderTimeout bounds reading a request's header (10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, header and body (30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer (30 s). For POST /Payments it
	// counts from when the answer is ready: the waits for the terminal
	// before it (--display-wait, --reversal-wait) have their own bounds.
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection's wait for its next
	// request (60 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (32 KiB).
	MaxHeaderBytes int
	// MaxConns bounds the connections a listener serves at once,
	// terminals' WebSockets included (10000). Connections beyond it wait
	// in the kernel's accept queue until one closes.
	MaxConns int
}

// DefaultHTTPLimits are the bounds a zero field of HTTPLimits takes.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second,
	MaxHeaderBytes: 32 << 10, MaxConns: 10000,
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	for _, f := range []struct{ p, def *time.Duration }{
		{&l.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&l.ReadTimeout, &d.ReadTimeout},
		{&l.WriteTimeout, &d.WriteTimeout}, {&l.IdleTimeout, &d.IdleTimeout},
	} {
		if *f.p <= 0 {
			*f.p = *f.def
		}
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	return l
}

// httpServer is the server one of g's handlers runs in. The terminal endpoint is
// a WebSocket that lives for hours: net/http clears a connection's
// deadlines when it is hijacked, so these bounds end with its upgrade.
func (g *Gateway) httpServer(h http.Handler) *http.Server {
	l := g.limits
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// capListener accepts a connection only while fewer than cap(slots) are
// open. Beyond that it stops accepting rather than accepting and closing:
// a waiting client is served as soon as a slot frees, and the process's
// file descriptors stay bounded either way.
type capListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func limitConns(ln net.Listener, n int) net.Listener {
	return &capListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *capListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *capListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// slotConn gives its slot back once, however often it is closed.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// NetConn is the connection slotConn wraps, for a transport that takes
// over the socket itself (termlink's poller); it closes the slotConn when
// done with it, which gives the slot back.
func (c *slotConn) NetConn() net.Conn { return c.Conn }

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
