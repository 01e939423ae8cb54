package simterm

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/posgate/posgate/termproto"
)

const (
	minBackoff       = 100 * time.Millisecond
	maxBackoff       = 10 * time.Second
	maxRetryAfter    = time.Minute // the longest a refusal's Retry-After is honoured
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 5 * time.Second
	defaultHeartbeat = 15 * time.Second // if a welcome names none
)

// authError is a rejected hello: wrong TID or secret, or a clock too far off.
type authError struct{ reason string }

func (e *authError) Error() string { return "authentication failed: " + e.reason }

// reconnectError is the cloud's reconnect frame: it closes the link and
// wants the terminal back after a delay, possibly on another gateway.
type reconnectError struct{ after time.Duration }

func (e *reconnectError) Error() string {
	return "the cloud asked to reconnect in " + e.after.String()
}

// refusedError is an upgrade the cloud refused for now (429 or 503), with
// its Retry-After.
type refusedError struct {
	status     string
	retryAfter time.Duration
}

func (e *refusedError) Error() string {
	return "connection refused for now: " + e.status + ", retry after " + e.retryAfter.String()
}

var errDropped = errors.New("connection dropped on purpose (DropAfterReceive fault)")

// backoff is exponential with equal jitter, so a fleet of terminals that
// lost the cloud together does not come back in lockstep.
func backoff(attempt int) time.Duration {
	d := min(minBackoff<<min(attempt, 8), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// session is one live connection after its welcome.
type session struct {
	ctx  context.Context
	conn *websocket.Conn
	t    *Terminal
}

// write sends f. A failed write kills the connection; the reader then ends
// the session, and whatever was lost is recovered by the journal (results)
// or not needed (progress, heartbeats).
func (s *session) write(f termproto.Frame) {
	b, err := termproto.Encode(f)
	if err != nil {
		s.t.log.Error("encode frame", "type", f.Type, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		s.t.log.Debug("write failed", "type", f.Type, "err", err)
		s.conn.CloseNow()
	}
}

// send writes f on the live connection, if there is one and the terminal is
// not silent.
func (t *Terminal) send(f termproto.Frame) {
	t.mu.Lock()
	s, silent := t.sess, t.faults.Silent
	t.mu.Unlock()
	if s != nil && !silent {
		s.write(f)
	}
}

// session dials, says hello and serves the connection until it ends. It
// reports how long the link was up after the welcome.
func (t *Terminal) session(ctx context.Context, endpoint string) (time.Duration, error) {
	t.mu.Lock()
	t.setOnlineLocked(false, ScreenConnecting, "")
	t.mu.Unlock()
	// One deadline covers dialling and the hello, and ends with them.
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(hctx, endpoint, &websocket.DialOptions{
		Subprotocols:    []string{termproto.Subprotocol},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return 0, &authError{reason: resp.Status}
		}
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			// Over a limit, or draining: the cloud says when to come back,
			// within reason.
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			wait := time.Duration(min(max(secs, 0), int(maxRetryAfter/time.Second))) * time.Second
			return 0, &refusedError{status: resp.Status, retryAfter: wait}
		}
		return 0, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != termproto.Subprotocol {
		c.Close(websocket.StatusPolicyViolation, "subprotocol "+termproto.Subprotocol+" required")
		return 0, fmt.Errorf("server did not accept subprotocol %s", termproto.Subprotocol)
	}
	c.SetReadLimit(termproto.MaxFrameBytes)
	welcome, err := t.hello(hctx, c)
	cancel()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	t.log.Info("terminal connected", "server", endpoint, "heartbeat_ms", welcome.HeartbeatMS)
	err = t.serve(ctx, c, welcome)
	return time.Since(start), err
}

func (t *Terminal) hello(ctx context.Context, c *websocket.Conn) (termproto.Frame, error) {
	var n [16]byte
	if _, err := crand.Read(n[:]); err != nil {
		return termproto.Frame{}, err
	}
	nonce := hex.EncodeToString(n[:])
	now := t.cfg.Now().Unix()
	hello := termproto.Frame{
		Type: termproto.TypeHello, TID: t.cfg.TID, Time: now, Nonce: nonce,
		Version: termproto.Version, Client: clientName,
		Sign: termproto.SignHello(t.cfg.Secret, t.cfg.TID, now, nonce, termproto.Version),
	}
	b, err := termproto.Encode(hello)
	if err != nil {
		return termproto.Frame{}, err
	}
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		return termproto.Frame{}, fmt.Errorf("send hello: %w", err)
	}
	var rejected *termproto.Frame
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if rejected != nil && websocket.CloseStatus(err) != termproto.CloseReplaced {
				return termproto.Frame{}, &authError{reason: describe(*rejected)}
			}
			return termproto.Frame{}, closeError(err)
		}
		f, err := termproto.Decode(b)
		if err != nil {
			return termproto.Frame{}, fmt.Errorf("bad frame instead of welcome: %w", err)
		}
		switch f.Type {
		case termproto.TypeWelcome:
			return f, nil
		case termproto.TypeError:
			// The close that follows may still say the TID was replaced.
			rejected = &f
		default:
			return termproto.Frame{}, fmt.Errorf("%s frame instead of welcome", f.Type)
		}
	}
}

func describe(f termproto.Frame) string {
	switch {
	case f.Code != "" && f.Message != "":
		return f.Code + ": " + f.Message
	case f.Code != "":
		return f.Code
	case f.Message != "":
		return f.Message
	}
	return "error frame"
}

func closeError(err error) error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case termproto.CloseAuthFailed:
		return &authError{reason: fmt.Sprintf("closed with %d %s", ce.Code, ce.Reason)}
	case termproto.CloseReplaced:
		return ErrReplaced
	}
	return fmt.Errorf("closed by the cloud: %d %s", ce.Code, ce.Reason)
}

// serve runs a welcomed connection: re-sends unacked results, heartbeats,
// watches for a silent cloud and handles the cloud's frames.
func (t *Terminal) serve(ctx context.Context, c *websocket.Conn, welcome termproto.Frame) error {
	interval := time.Duration(welcome.HeartbeatMS) * time.Millisecond
	if interval <= 0 {
		interval = defaultHeartbeat
	}
	// Reads outlive ctx so that shutting down can still do a close
	// handshake: coder/websocket kills the connection when a Read's
	// context ends.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &session{ctx: sctx, conn: c, t: t}
	frames := make(chan termproto.Frame)
	readErr := make(chan error, 1)
	var reader sync.WaitGroup
	reader.Go(func() { t.read(sctx, c, frames, readErr) })

	t.mu.Lock()
	t.sess = s
	t.setOnlineLocked(true, ScreenIdle, "")
	var pending []entry
	for _, e := range t.journal.unacked() {
		// The running command reports its own result when it ends.
		if t.exec == nil || t.exec.cmd.ID != e.ID {
			pending = append(pending, t.settleLocked(e))
		}
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.sess = nil
		t.online = false
		t.mu.Unlock()
		cancel()
		c.CloseNow()
		reader.Wait()
	}()

	for _, e := range pending {
		t.log.Info("re-sending unacknowledged result", "id", e.ID, "outcome", e.Outcome)
		t.send(resultFrame(e))
	}

	heartbeat := time.NewTicker(interval)
	defer heartbeat.Stop()
	dead := time.NewTimer(2 * interval)
	defer dead.Stop()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusGoingAway, "terminal shutting down")
			return ctx.Err()
		case <-t.crash:
			return ErrCrashed // the deferred CloseNow is the abrupt drop
		case err := <-readErr:
			return closeError(err)
		case f := <-frames:
			dead.Reset(2 * interval)
			if err := t.handle(ctx, f); err != nil {
				return err
			}
		case <-heartbeat.C:
			if !t.silent() {
				seq++
				t.send(termproto.Frame{Type: termproto.TypeHeartbeat, Seq: seq})
			}
		case <-dead.C:
			if t.silent() {
				dead.Reset(2 * interval)
				continue
			}
			return fmt.Errorf("nothing from the cloud for %v", 2*interval)
		}
	}
}

// read feeds the cloud's frames to serve. While Silent it does not read at
// all, so the cloud's frames and pings go unanswered, and when the silence
// ends it ends the connection: frames sent into a partition are lost, and
// a terminal that heard nothing for that long would reconnect anyway.
func (t *Terminal) read(ctx context.Context, c *websocket.Conn, frames chan<- termproto.Frame, errc chan<- error) {
	for {
		if err := t.waitAudible(ctx); err != nil {
			errc <- err
			return
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			errc <- err
			return
		}
		if t.silent() {
			continue // arrived as the link went silent: lost
		}
		f, err := termproto.Decode(b)
		if err != nil {
			t.log.Warn("ignoring a malformed frame from the cloud", "err", err)
			continue
		}
		select {
		case frames <- f:
		case <-ctx.Done():
			errc <- ctx.Err()
			return
		}
	}
}

var errSilenced = errors.New("link was silent (Silent fault)")

func (t *Terminal) waitAudible(ctx context.Context) error {
	for silenced := false; ; silenced = true {
		t.mu.Lock()
		silent, changed := t.faults.Silent, t.faultsChanged
		t.mu.Unlock()
		if !silent {
			if silenced {
				return errSilenced
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (t *Terminal) handle(ctx context.Context, f termproto.Frame) error {
	switch f.Type {
	case termproto.TypeCommand:
		return t.command(ctx, f)
	case termproto.TypeAbort:
		t.abort(f)
	case termproto.TypeAck:
		t.mu.Lock()
		err := t.journal.ack(f.ID)
		t.mu.Unlock()
		if err != nil {
			// Harmless: the result is re-sent after the next connect and
			// acked again.
			t.log.Error("journal ack", "id", f.ID, "err", err)
		}
	case termproto.TypeError:
		t.log.Warn("error from the cloud", "code", f.Code, "message", f.Message)
	case termproto.TypeReconnect:
		// A command running goes on: its result waits in the journal and
		// is re-sent on the next connection, wherever that is.
		return &reconnectError{after: time.Duration(f.AfterMS) * time.Millisecond}
	}
	return nil
}
