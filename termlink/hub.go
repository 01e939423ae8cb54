// Package termlink is the cloud side of the terminal link: it accepts one
// authenticated WebSocket per terminal (termproto v1), tracks which
// terminals are online, delivers commands and hands progress and results to
// the gateway. docs/terminal-protocol.md describes the terminal's side.
package termlink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/internal/keyedrate"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/termproto"
)

// Handler is the gateway's side: credentials, durable recording, and what
// to do on connect.
type Handler interface {
	// TerminalSecret returns the terminal's secret_key (hex text), or an
	// error wrapping posgate.ErrNotFound if the TID is unknown.
	TerminalSecret(ctx context.Context, tid string) (string, error)
	// UseNonce records a hello nonce until expires; it returns an error
	// wrapping posgate.ErrDuplicate if the nonce was already used.
	UseNonce(ctx context.Context, tid, nonce string, expires time.Time) error
	// Connected is called after the welcome was sent and the connection
	// registered, so Send already reaches the terminal: the gateway re-sends
	// the command in flight from here.
	Connected(ctx context.Context, tid string)
	// Disconnected is called once the terminal has no live connection left.
	// Connected and Disconnected calls for one TID never overlap and come in
	// order.
	Disconnected(tid string)
	// Progress records a stage the terminal reported for one of its
	// commands.
	Progress(ctx context.Context, tid string, p posgate.Progress) error
	// Result applies a command's result durably and idempotently (by its
	// command id). The hub acks the result only after Result returned nil.
	Result(ctx context.Context, tid string, r posgate.Result) error
}

// Config tunes a Hub. Zero fields take their defaults.
type Config struct {
	// HeartbeatInterval is how often terminals send a heartbeat; a
	// connection silent for twice as long is closed. Default 10s.
	HeartbeatInterval time.Duration
	// TimeWindow is how far a hello's time may be from the cloud's clock.
	// Default 300s.
	TimeWindow time.Duration
	// HelloTimeout is how long a new connection has to authenticate.
	// Default 10s.
	HelloTimeout time.Duration
	// Hellos bounds new connections per source address; HelloFailures
	// bounds failed authentications per source address, after which the
	// address's connections are refused until the bucket refills. Over
	// either, the upgrade is answered 429 with Retry-After. Zero values
	// take DefaultHelloLimits.
	Hellos, HelloFailures Rate
	// Progress bounds the progress frames one connection may send; more
	// are dropped (the result is never limited). Zero takes
	// DefaultProgressRate.
	Progress Rate
	// Accepts bounds new connections across every source address: the
	// node's own protection against a reconnect storm, when another
	// gateway died or drained and its terminals all come here. Over it,
	// the upgrade is answered 503 with Retry-After, which a terminal takes
	// as "back off" (and may try another gateway). Zero takes
	// DefaultAccepts.
	Accepts Rate
	// Now is the clock for hello times, LastSeen and server_time. Default
	// time.Now.
	Now func() time.Time
	// Logger receives connects, disconnects and authentication failures.
	// Default slog.Default().
	Logger *slog.Logger
	// IO is how connections are read: IOAuto (the default), IOPoller or
	// IOGoroutine.
	IO string
	// GoroutineConns is how many connections IOAuto serves with a
	// goroutine each; the ones beyond go to the poller. Zero takes
	// DefaultGoroutineConns.
	GoroutineConns int
}

// Status is what the hub knows of one terminal.
type Status struct {
	TID    string
	Online bool
	// LastSeen is when the last frame from the terminal arrived; it is kept
	// after a disconnect and zero if the terminal never authenticated.
	LastSeen time.Time
	// ConnectedAt and RemoteAddr describe the live connection; zero when
	// offline.
	ConnectedAt time.Time
	RemoteAddr  string
	// OfflineSince is when the last connection ended; zero while online
	// and before the first connection since start.
	OfflineSince time.Time
	// Client is the software the terminal named in its latest hello.
	Client string
}

// writeTimeout bounds every write: a terminal that cannot take a small
// frame within it is treated as gone.
const writeTimeout = 5 * time.Second

// Hub holds the live terminal connections. Create it with New and accept
// terminals through its Endpoint.
type Hub struct {
	cfg        Config
	log        *slog.Logger
	io         transport
	authFailed []byte // every failed hello gets these exact bytes
	hellos     *keyedrate.Limiters
	failures   *keyedrate.Limiters
	accepts    *rate.Limiter
	// refused counts upgrades refused by Accepts and while draining.
	refusedRate, refusedDraining atomic.Int64

	mu   sync.Mutex
	live map[string]*conn     // the current connection per TID
	seen map[string]*terminal // every TID authenticated since start
	all  map[*conn]struct{}   // every accepted connection, for Shutdown
	// draining refuses new connections while the live ones keep working
	// (Drain); closing also ends the live ones (Shutdown).
	draining bool
	closing  bool
	serving  sync.WaitGroup // connections accepted and not yet ended
	stopIO   sync.Once
}

type terminal struct {
	lastSeen atomic.Int64 // Unix ns; atomic so frames do not take Hub.mu
	// events makes registering, dropping and the Connected and Disconnected
	// calls that follow one step, so a stale Disconnected can never land
	// after the Connected of a newer connection.
	events sync.Mutex
	// Guarded by Hub.mu, like the registry they describe.
	client       string
	offlineSince time.Time
}

type conn struct {
	w        wire
	handler  Handler
	remote   string
	ip       string        // the source address the hello limits count
	progress *rate.Limiter // made at the first progress frame
	// setup is held while the upgrade's bookkeeping is done: the
	// transport delivers nothing about the connection before.
	setup sync.Mutex
	// timer closes the connection when no frame arrives in time; it is
	// stopped while a frame is handled, and costs no goroutine until it
	// fires.
	timer  *time.Timer
	authed atomic.Bool // publishes tid, term and connectedAt to other goroutines
	over   atomic.Bool // end ran, or the upgrade failed

	tid         string
	client      string
	term        *terminal
	connectedAt time.Time
	// welcomed is closed once the welcome is written: the connection is
	// live (online) from just before, and Send waits for it so no command
	// overtakes the welcome.
	welcomed chan struct{}
}

// endErr is why the hub ends a connection itself.
type endErr struct {
	code  int
	text  string // close reason on the wire
	frame []byte // error frame sent before the close
	why   string // for the log only
}

func (e *endErr) Error() string { return e.why }

// Rate is a token bucket: PerSecond on average, Burst at once.
type Rate struct{ PerSecond, Burst float64 }

// Defaults of the hub's limits. A shop's terminals share its address and
// all reconnect at once after a gateway restart, hence the bursts.
var (
	DefaultHellos        = Rate{PerSecond: 20, Burst: 100}
	DefaultHelloFailures = Rate{PerSecond: 1, Burst: 10}
	DefaultProgressRate  = Rate{PerSecond: 20, Burst: 40}
	// DefaultAccepts is about half of what one node on PostgreSQL took
	// on a loaded 2-core machine (cluster's BenchmarkReconnectStorm:
	// 560-870/s), leaving the rest to payments: two survivors take the
	// 3,000 terminals of a dead peer in about 5 s.
	DefaultAccepts = Rate{PerSecond: 300, Burst: 600}
)

func (r Rate) or(def Rate) Rate {
	if r.PerSecond <= 0 || r.Burst <= 0 {
		return def
	}
	return r
}

// DefaultHeartbeatInterval is how often terminals heartbeat unless told
// otherwise.
const DefaultHeartbeatInterval = 10 * time.Second

// New returns a Hub with no terminal connected. Shutdown stops it.
func New(cfg Config) (*Hub, error) {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.TimeWindow <= 0 {
		cfg.TimeWindow = protocol.DefaultTimeWindow
	}
	cfg.Hellos = cfg.Hellos.or(DefaultHellos)
	cfg.HelloFailures = cfg.HelloFailures.or(DefaultHelloFailures)
	cfg.Progress = cfg.Progress.or(DefaultProgressRate)
	cfg.Accepts = cfg.Accepts.or(DefaultAccepts)
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IO == "" {
		cfg.IO = DefaultIO
	}
	if cfg.GoroutineConns <= 0 {
		cfg.GoroutineConns = DefaultGoroutineConns
	}
	h := &Hub{
		cfg:        cfg,
		log:        cfg.Logger,
		authFailed: errorFrame(termproto.ErrorAuthFailed, "authentication failed"),
		hellos:     keyedrate.New(cfg.Hellos.PerSecond, cfg.Hellos.Burst),
		failures:   keyedrate.New(cfg.HelloFailures.PerSecond, cfg.HelloFailures.Burst),
		accepts:    rate.NewLimiter(rate.Limit(cfg.Accepts.PerSecond), max(1, int(cfg.Accepts.Burst))),
		live:       make(map[string]*conn),
		seen:       make(map[string]*terminal),
		all:        make(map[*conn]struct{}),
	}
	io, err := newTransport(h, cfg.IO, cfg.GoroutineConns)
	if err != nil {
		return nil, err
	}
	h.io = io
	return h, nil
}

// Endpoint is the WebSocket endpoint, mounted at termproto.Path, that
// accepts terminals into the hub and reports their credentials, frames and
// connections to handler. The hub exists before its handler so that the
// gateway's service can be built with the hub as its link.
func (h *Hub) Endpoint(handler Handler) http.Handler { return endpoint{h, handler} }

type endpoint struct {
	hub     *Hub
	handler Handler
}

// ServeHTTP upgrades a terminal's request and serves the connection until
// it ends.
func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := e.hub
	ip, now := keyedrate.SourceIP(r), time.Now()
	if wait, over := h.failures.Exhausted(ip, now); over {
		tooMany(w, wait)
		return
	}
	if wait, ok := h.hellos.Take(ip, now); !ok {
		tooMany(w, wait)
		return
	}
	if h.refusing() {
		h.refusedDraining.Add(1)
		unavailable(w, time.Second, "draining: connect to another gateway")
		return
	}
	if token := h.accepts.ReserveN(now, 1); token.DelayFrom(now) > 0 {
		wait := token.DelayFrom(now)
		token.CancelAt(now)
		h.refusedRate.Add(1)
		unavailable(w, wait, "too many new terminal connections on this gateway")
		return
	}
	h.accept(w, r, e.handler)
}

// accept upgrades the request and hands the connection to the transport,
// or answers the request with a refusal. The handler then returns: the
// transport serves the connection, and net/http frees what it keeps for a
// request's life (its connection state, a 4 KiB write buffer, the request
// and its headers). Hijacked, the connection no longer belongs to the
// server; the hub tracks and closes it (Shutdown waits for serving).
func (h *Hub) accept(w http.ResponseWriter, r *http.Request, handler Handler) {
	h.mu.Lock()
	if h.closing || h.draining {
		h.mu.Unlock()
		unavailable(w, time.Second, "shutting down: connect to another gateway")
		return
	}
	h.serving.Add(1)
	h.mu.Unlock()

	c := &conn{handler: handler, remote: r.RemoteAddr, ip: keyedrate.SourceIP(r), welcomed: make(chan struct{})}
	c.setup.Lock()
	wire, err := h.io.upgrade(w, r, c)
	if err != nil {
		c.over.Store(true)
		c.setup.Unlock()
		h.log.Debug("terminal upgrade refused", "remote", r.RemoteAddr, "err", err)
		h.serving.Done()
		return
	}
	c.w = wire
	c.timer = time.AfterFunc(h.cfg.HelloTimeout, func() { h.expire(c) })
	h.mu.Lock()
	closing := h.closing || h.draining
	h.all[c] = struct{}{}
	h.mu.Unlock()
	// Refused before any message is handled: a hello already sent must
	// not be authenticated on a connection being ended.
	defer c.setup.Unlock()
	switch {
	case closing:
		h.end(c, &endErr{code: termproto.CloseShutdown, text: "shutting down", why: "shutdown"})
	case wire.Subprotocol() == "":
		h.log.Warn("terminal authentication failed", "remote", c.remote, "reason", "subprotocol "+termproto.Subprotocol+" not requested")
		h.end(c, h.authFailure())
	}
}

// waitSetup returns once the upgrade's bookkeeping is done.
func (c *conn) waitSetup() {
	c.setup.Lock()
	//lint:ignore SA2001 the lock is only a barrier: the upgrade holds it
	c.setup.Unlock()
}

// receive handles one message of c, in order; the transport calls it for
// each message and stops reading when it returns false.
func (h *Hub) receive(c *conn, text bool, b []byte) bool {
	if c.over.Load() {
		return false
	}
	if !c.timer.Stop() {
		return false // the timer fired: expire is ending the connection
	}
	err := h.message(c, text, b)
	if err != nil {
		h.end(c, err)
		return false
	}
	c.timer.Reset(2 * h.cfg.HeartbeatInterval)
	return true
}

// ended is the transport's report that c's connection is over: the peer
// left, a read or write failed, or the hub closed it.
func (h *Hub) ended(c *conn, err error) {
	if err == nil {
		err = errPeerClosed // nbio's report of a normal close
	}
	h.end(c, err)
}

var errPeerClosed = errors.New("closed by the peer")

// message acts on one message: the hello while c is not authenticated,
// a frame after.
func (h *Hub) message(c *conn, text bool, b []byte) error {
	if !text {
		return protocolError("binary message")
	}
	if len(b) > termproto.MaxFrameBytes {
		return &endErr{code: termproto.CloseMessageTooBig, text: "message too big", why: fmt.Sprintf("a message of %d bytes", len(b))}
	}
	// RFC 6455 requires text messages to be UTF-8; the JSON decoder would
	// otherwise turn the bad bytes into U+FFFD and accept the frame.
	if !utf8.Valid(b) {
		e := protocolError("text message is not valid UTF-8")
		e.code = termproto.CloseInvalidData
		return e
	}
	ctx := context.Background()
	if c.authed.Load() {
		return h.handle(ctx, c, b)
	}
	return h.open(ctx, c, b)
}

// end closes a connection's books once it is over; only its first call
// does anything.
func (h *Hub) end(c *conn, err error) {
	if c.over.Swap(true) {
		return
	}
	c.timer.Stop()
	h.finish(c, err)
	h.io.ended(c)
	h.mu.Lock()
	delete(h.all, c)
	h.mu.Unlock()
	h.serving.Done()
}

// open authenticates the hello in b, welcomes the terminal and registers
// it.
func (h *Hub) open(ctx context.Context, c *conn, b []byte) error {
	if err := h.authenticate(ctx, c, b); err != nil {
		return err
	}
	now := h.cfg.Now()
	welcome := termproto.Frame{
		Type:        termproto.TypeWelcome,
		Version:     termproto.Version,
		HeartbeatMS: h.cfg.HeartbeatInterval.Milliseconds(),
		ServerTime:  now.UnixMilli(),
	}
	return h.register(ctx, c, now, welcome)
}

// handle acts on one frame from an authenticated terminal.
func (h *Hub) handle(ctx context.Context, c *conn, b []byte) error {
	c.term.lastSeen.Store(h.cfg.Now().UnixNano())
	f, err := termproto.Decode(b)
	if err != nil {
		return protocolError(err.Error())
	}
	switch f.Type {
	case termproto.TypeHeartbeat:
		return c.send(termproto.Frame{Type: termproto.TypeHeartbeatAck, Seq: f.Seq})
	case termproto.TypeProgress:
		// Progress is informational: a bad or unrecorded one is dropped
		// alone and must not cost the connection the result that follows.
		if c.progress == nil {
			c.progress = rate.NewLimiter(rate.Limit(h.cfg.Progress.PerSecond), int(h.cfg.Progress.Burst))
		}
		if !c.progress.Allow() {
			h.log.Debug("terminal progress dropped: over the rate", "tid", c.tid, "id", f.ID)
			return nil
		}
		p, ok := progressOf(f)
		if !ok {
			h.log.Warn("terminal progress refused: unknown stage", "tid", c.tid, "id", f.ID, "stage", f.Stage)
			return nil
		}
		if err := c.handler.Progress(ctx, c.tid, p); err != nil {
			h.log.Warn("terminal progress not recorded", "tid", c.tid, "id", f.ID, "stage", f.Stage, "err", err)
		}
		return nil
	case termproto.TypeResult:
		r, err := resultOf(f)
		if err != nil {
			return protocolError(fmt.Sprintf("result %s refused: %v", f.ID, err))
		}
		if err := c.handler.Result(ctx, c.tid, r); err != nil {
			// Without an ack the terminal keeps the result in its journal
			// and re-sends it after reconnecting; closing makes that happen
			// now rather than at the next network hiccup.
			return &endErr{
				code:  termproto.CloseInternal,
				text:  "internal error",
				frame: errorFrame(termproto.ErrorInternal, "result not recorded, reconnect and re-send"),
				why:   fmt.Sprintf("result %s not recorded: %v", f.ID, err),
			}
		}
		return c.send(termproto.Frame{Type: termproto.TypeAck, ID: f.ID})
	default:
		return protocolError(f.Type + " frame from a terminal")
	}
}

// authenticate checks the hello in b. Every refusal looks the same to the
// terminal, so a caller cannot learn which TIDs exist; the log says why.
func (h *Hub) authenticate(ctx context.Context, c *conn, b []byte) error {
	f, err := termproto.Decode(b)
	fail := func(reason string) error {
		h.log.Warn("terminal authentication failed", "tid", f.TID, "remote", c.remote, "reason", reason)
		return h.authFailure()
	}
	switch {
	case err != nil:
		return fail("bad hello: " + err.Error())
	case f.Type != termproto.TypeHello:
		return fail("first frame is " + f.Type)
	case f.Version != termproto.Version:
		return fail(fmt.Sprintf("version %d", f.Version))
	}
	now := h.cfg.Now()
	if skew := now.Sub(time.Unix(f.Time, 0)).Abs(); skew > h.cfg.TimeWindow {
		return fail(fmt.Sprintf("hello time %d is %s off", f.Time, skew.Round(time.Second)))
	}
	secret, err := c.handler.TerminalSecret(ctx, f.TID)
	known := err == nil
	if !known && !errors.Is(err, posgate.ErrNotFound) {
		return internalError("terminal secret: " + err.Error())
	}
	// An unknown TID is checked against the empty secret so that it costs
	// the same HMAC as a known one.
	if !protocol.Verify(secret, termproto.HelloStringToSign(f.TID, f.Time, f.Nonce, f.Version), f.Sign) || !known {
		if !known {
			return fail("unknown tid")
		}
		return fail("bad signature")
	}
	// A hello is accepted while its time is within TimeWindow of now, so
	// its nonce must be remembered until now+2*TimeWindow at least.
	err = c.handler.UseNonce(ctx, f.TID, f.Nonce, now.Add(2*h.cfg.TimeWindow))
	if errors.Is(err, posgate.ErrDuplicate) {
		return fail("nonce reused")
	}
	if err != nil {
		return internalError("use nonce: " + err.Error())
	}
	c.tid, c.client = f.TID, f.Client
	return nil
}

// register makes c the TID's live connection, closes the one it replaces
// and calls Connected.
func (h *Hub) register(ctx context.Context, c *conn, now time.Time, welcome termproto.Frame) error {
	h.mu.Lock()
	t := h.seen[c.tid]
	if t == nil {
		t = new(terminal)
		h.seen[c.tid] = t
	}
	h.mu.Unlock()

	t.events.Lock()
	defer t.events.Unlock()
	h.mu.Lock()
	if h.closing || h.draining {
		h.mu.Unlock()
		return &endErr{code: termproto.CloseShutdown, text: "shutting down", why: "shutdown"}
	}
	old := h.live[c.tid]
	h.live[c.tid] = c
	c.term, c.connectedAt = t, now
	t.client, t.offlineSince = c.client, time.Time{}
	t.lastSeen.Store(now.UnixNano())
	c.authed.Store(true)
	h.mu.Unlock()

	// Live before the welcome: a terminal that has been welcomed is online
	// for the API at once.
	err := c.send(welcome)
	close(c.welcomed)
	if err != nil {
		return err
	}
	if old != nil {
		// The old reader notices the close and finds itself no longer live,
		// so it neither marks the TID offline nor calls Disconnected.
		go old.w.Close(termproto.CloseReplaced, "replaced by a newer connection")
	}
	h.log.Info("terminal connected", "tid", c.tid, "remote", c.remote, "replaced", old != nil)
	c.handler.Connected(ctx, c.tid)
	return nil
}

// drop takes c out of the registry if it is still the TID's live
// connection, and only then calls Disconnected. Safe to call more than once.
func (h *Hub) drop(c *conn, why string) {
	if !c.authed.Load() {
		return
	}
	c.term.events.Lock()
	defer c.term.events.Unlock()
	h.mu.Lock()
	live := h.live[c.tid] == c
	if live {
		delete(h.live, c.tid)
		c.term.offlineSince = h.cfg.Now()
	}
	h.mu.Unlock()
	if !live {
		return
	}
	h.log.Info("terminal disconnected", "tid", c.tid, "remote", c.remote, "reason", why,
		// As text: slog's JSON handler writes a time.Duration as nanoseconds.
		"connected_for", h.cfg.Now().Sub(c.connectedAt).Round(time.Millisecond).String())
	c.handler.Disconnected(c.tid)
}

// expire runs on the timer's goroutine when a connection stayed silent.
func (h *Hub) expire(c *conn) {
	c.waitSetup() // c.timer is set under it
	if !c.authed.Load() {
		h.log.Warn("terminal authentication failed", "remote", c.remote, "reason", "no hello within "+h.cfg.HelloTimeout.String())
		h.end(c, h.authFailure())
		return
	}
	// finish drops the terminal before the close: the status changes now,
	// while the close handshake with a vanished peer takes a while.
	h.end(c, &endErr{code: termproto.CloseTimeout, text: "heartbeat timeout", why: "no frame within two heartbeat intervals"})
}

// finish ends the connection for err, the reason it is over.
func (h *Hub) finish(c *conn, err error) {
	var e *endErr
	if !errors.As(err, &e) {
		// The peer left, a write failed, or another goroutine is closing
		// the connection (replacement, shutdown, timeout).
		h.drop(c, err.Error())
		if !c.authed.Load() {
			h.log.Debug("terminal left before authenticating", "remote", c.remote, "err", err)
		}
		c.w.CloseNow()
		return
	}
	h.drop(c, e.why)
	if e.code == termproto.CloseAuthFailed {
		h.failures.Take(c.ip, time.Now())
	}
	if e.code == termproto.CloseInternal {
		h.log.Error("terminal connection closed on an internal error", "tid", c.tid, "remote", c.remote, "err", e.why)
	}
	c.end(e)
}

// unavailable refuses an upgrade this gateway cannot take now, whoever
// asks: it drains, or too many terminals connect at once.
func unavailable(w http.ResponseWriter, wait time.Duration, why string) {
	w.Header().Set("Retry-After", keyedrate.RetryAfter(wait))
	http.Error(w, why, http.StatusServiceUnavailable)
}

func (h *Hub) refusing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining || h.closing
}

// tooMany refuses an upgrade over the hello limits.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", keyedrate.RetryAfter(wait))
	http.Error(w, "too many connections from this address", http.StatusTooManyRequests)
}

func (h *Hub) authFailure() *endErr {
	return &endErr{code: termproto.CloseAuthFailed, text: "authentication failed", frame: h.authFailed, why: "authentication failed"}
}

func protocolError(why string) *endErr {
	return &endErr{code: termproto.CloseProtocol, text: "protocol error", frame: errorFrame(termproto.ErrorProtocol, why), why: "protocol error: " + why}
}

func internalError(why string) *endErr {
	return &endErr{code: termproto.CloseInternal, text: "internal error", frame: errorFrame(termproto.ErrorInternal, "internal error, reconnect later"), why: why}
}

func errorFrame(code, msg string) []byte {
	b, err := termproto.Encode(termproto.Frame{Type: termproto.TypeError, Code: code, Message: msg})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return b
}

// Send writes f to the terminal's live connection. It returns an error
// wrapping posgate.ErrTerminalOffline if there is none or the write fails;
// a failed write closes the connection.
func (h *Hub) Send(ctx context.Context, tid string, f termproto.Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("termlink: send to %s: %w", tid, err)
	}
	h.mu.Lock()
	c := h.live[tid]
	h.mu.Unlock()
	if c == nil {
		return posgate.ErrTerminalOffline
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.welcomed:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Only writeTimeout ends a write: a cancelled context would close a
	// coder/websocket connection mid-write.
	if err := c.send(f); err != nil {
		return fmt.Errorf("termlink: send to %s: %w: %w", tid, posgate.ErrTerminalOffline, err)
	}
	return nil
}

// Status reports what the hub knows of tid.
func (h *Hub) Status(tid string) Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status(tid)
}

func (h *Hub) status(tid string) Status {
	s := Status{TID: tid}
	if t := h.seen[tid]; t != nil {
		s.LastSeen, s.OfflineSince, s.Client = time.Unix(0, t.lastSeen.Load()), t.offlineSince, t.client
	}
	if c := h.live[tid]; c != nil {
		s.Online, s.ConnectedAt, s.RemoteAddr = true, c.connectedAt, c.remote
	}
	return s
}

// Statuses reports every TID seen since the hub started, sorted by TID.
func (h *Hub) Statuses() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.seen))
	for tid := range h.seen {
		out = append(out, h.status(tid))
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.TID, b.TID) })
	return out
}

// Connected is how many terminals have a live connection.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.live)
}

// Online reports whether tid has a live connection.
func (h *Hub) Online(tid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live[tid] != nil
}

// Refused reports how many upgrades were refused with 503 because they
// came over the Accepts rate, and because the hub was draining or shut.
func (h *Hub) Refused() (overRate, draining int64) {
	return h.refusedRate.Load(), h.refusedDraining.Load()
}

// Drain refuses new connections (503 with Retry-After) and keeps the live
// ones working, so that the commands in flight on them can finish. A
// connection still authenticating when Drain is called is refused at its
// welcome. Reconnect, then Shutdown, end the live ones.
func (h *Hub) Drain() {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
}

// Reconnect tells every live terminal to reconnect, each after its own
// delay drawn at random from [0, spread), so that the gateways taking
// them over see them arrive spread over that window rather than at once.
// Each gets a reconnect frame, then the close termproto.CloseShutdown.
// It returns how many terminals were told; call Drain first, or they
// may come straight back.
func (h *Hub) Reconnect(ctx context.Context, spread time.Duration) int {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.live))
	for _, c := range h.live {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		var after time.Duration
		if spread > 0 {
			after = rand.N(spread)
		}
		wg.Go(func() {
			h.drop(c, "told to reconnect")
			f := termproto.Frame{Type: termproto.TypeReconnect, AfterMS: min(after.Milliseconds(), termproto.MaxReconnectAfter)}
			if err := c.send(f); err != nil {
				c.w.CloseNow()
				return
			}
			c.w.Close(termproto.CloseShutdown, "reconnect")
		})
	}
	wg.Wait()
	return len(conns)
}

// Shutdown closes every connection with termproto.CloseShutdown, refuses
// new ones, and waits until every connection ended (and Disconnected
// was called) or ctx ends; then it stops the transport. It may be called
// more than once. With IOGoroutine a peer that does not answer the close
// handshake holds its connection for up to 10s (coder/websocket's close
// timeouts), so allow ctx at least that much.
// http.Server.Shutdown does not close hijacked connections, so the server's
// owner calls this too.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	first := !h.closing
	h.closing = true
	var conns []*conn
	if first {
		conns = make([]*conn, 0, len(h.all))
		for c := range h.all {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		go func() {
			h.drop(c, "shutdown")
			c.w.Close(termproto.CloseShutdown, "shutting down")
		}()
	}
	done := make(chan struct{})
	go func() {
		h.serving.Wait()
		h.stopIO.Do(h.io.stop)
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) send(f termproto.Frame) error {
	b, err := termproto.Encode(f)
	if err != nil {
		return err
	}
	return c.w.Write(b)
}

// end sends e's error frame, if any, and closes with e's code.
func (c *conn) end(e *endErr) {
	if e.frame != nil {
		if err := c.w.Write(e.frame); err != nil {
			c.w.CloseNow()
			return
		}
	}
	c.w.Close(e.code, e.text)
}

// CloseReplaced closes tid's live connection with termproto.CloseReplaced
// because a newer one is held elsewhere (another gateway of a cluster);
// it reports whether there was one. Like a replacement within the hub,
// the TID goes offline here at once and Disconnected is called.
func (h *Hub) CloseReplaced(tid string) bool {
	h.mu.Lock()
	c := h.live[tid]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	h.drop(c, "replaced by a newer connection on another gateway")
	go c.w.Close(termproto.CloseReplaced, "replaced by a newer connection")
	return true
}
