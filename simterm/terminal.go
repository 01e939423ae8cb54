// Package simterm is a simulated POS terminal: it speaks the terminal link
// (package termproto) to a posgate cloud, shows what a POS display would
// show, takes the customer's and operator's input, and answers through a
// simulated acquirer whose behaviour is chosen by magic amounts. Merchants
// use it to try posgate without hardware; tests use it, with its faults, to
// check the cloud's exactly-once handling. It has no UI; see RunHeadless and
// package simterm/tui, and package simterm/control for a program that
// chooses each outcome (Queue, SetStanding).
package simterm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/posgate/posgate/termproto"
)

// Config configures a Terminal.
type Config struct {
	// Server is the cloud's base URL: http(s)://host[:port][/prefix], or
	// ws(s):// directly. Several gateways of one cluster may be given,
	// separated by commas: the terminal moves to the next one each time
	// its link ends (it was dropped, refused, or told to reconnect), with
	// the usual backoff.
	Server string
	// TID and Secret are the terminal's credentials; Secret is the hex text.
	TID, Secret string
	// JournalPath is the file that records each command on arrival, when
	// it is sent to the acquirer and its result, kept until the cloud acks
	// the result (and the last 1000 acked ones). Empty keeps it in memory,
	// which loses it with the process.
	JournalPath string
	// CardDelay is how long after the amount is shown AutoTap presents the
	// card (or confirms a reversal). Default 300ms.
	CardDelay time.Duration
	AutoTap   bool
	Faults    Faults
	Logger    *slog.Logger     // default: discard
	Now       func() time.Time // default: time.Now; used for hello and frame times
	// OnAcquirer, if set, is called each time the simulated acquirer
	// performs an operation, before its answer reaches the terminal. It
	// outlives the Terminal, so a test can count authorisations across a
	// crash and a restart.
	OnAcquirer func(cmd termproto.Frame)
}

// Faults make the terminal misbehave on purpose. DropAfterReceive,
// CrashBeforeResult and CrashBeforeAnswer clear themselves once they fire.
type Faults struct {
	// DropAfterReceive closes the connection right after the next command
	// arrives, before it is journaled or executed: the cloud must re-send
	// it.
	DropAfterReceive bool
	// CrashBeforeResult lets the next command execute and reach the
	// journal, then drops the connection without a close handshake and
	// makes Run return ErrCrashed before the result is sent. A new Terminal
	// on the same JournalPath reports the result.
	CrashBeforeResult bool
	// CrashBeforeAnswer lets the next command reach the acquirer, which
	// performs it, then crashes like CrashBeforeResult before the answer
	// is journaled: a new Terminal on the same JournalPath reports
	// outcome interrupted and does not run the command again.
	CrashBeforeAnswer bool
	// ResultDelay holds every result back this long after its outcome is
	// journaled.
	ResultDelay time.Duration
	// Silent stops heartbeats, reading and sending while keeping the TCP
	// connection open: a silent drop the cloud must detect by itself.
	// Frames the cloud sends meanwhile are lost. Clearing it ends that
	// connection and the terminal reconnects, as its own watchdog would.
	Silent bool
}

var (
	// ErrReplaced is returned by Run when the cloud closed the link with
	// termproto.CloseReplaced: another connection now serves this TID, and
	// reconnecting would only fight it.
	ErrReplaced = errors.New("simterm: replaced by another connection for the same TID")
	// ErrCrashed is returned by Run when the CrashBeforeResult or
	// CrashBeforeAnswer fault fired. The Terminal stays dead; start a new
	// one on the same journal.
	ErrCrashed = errors.New("simterm: crashed before sending a result (CrashBeforeResult or CrashBeforeAnswer fault)")
)

const (
	defaultCardDelay   = 300 * time.Millisecond
	defaultCardTimeout = 120 * time.Second
	// clientName is sent in hello so the cloud can tell simulators apart.
	clientName = "posgate-sim/1"
)

// Terminal is one simulated POS terminal. Its methods are safe for
// concurrent use.
type Terminal struct {
	cfg       Config
	log       *slog.Logger
	endpoints []string
	next      int // index in endpoints of the next dial; touched by Run only

	// crash carries the crash faults from the execution to Run.
	crash chan struct{}
	execs sync.WaitGroup

	mu            sync.Mutex
	journal       *journal
	screen        Screen
	online        bool
	subs          map[chan Screen]struct{}
	faults        Faults
	faultsChanged chan struct{} // closed and replaced by every SetFaults
	exec          *execution    // the command being executed, if any
	sess          *session      // the live connection, if any
	executed      map[string]int
	queued        []Action // the next commands' actions, oldest first
	standing      *Action  // the action of a command with none queued
	running       bool
	crashed       bool
}

// New checks cfg and loads the journal; it does not connect.
func New(cfg Config) (*Terminal, error) {
	if cfg.TID == "" || cfg.Secret == "" {
		return nil, errors.New("simterm: TID and Secret are required")
	}
	var eps []string
	for server := range strings.SplitSeq(cfg.Server, ",") {
		ep, err := endpoint(strings.TrimSpace(server))
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	if cfg.CardDelay <= 0 {
		cfg.CardDelay = defaultCardDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger.With("tid", cfg.TID)
	j, err := openJournal(cfg.JournalPath, log)
	if err != nil {
		return nil, fmt.Errorf("simterm: %w", err)
	}
	t := &Terminal{
		cfg:           cfg,
		log:           log,
		endpoints:     eps,
		crash:         make(chan struct{}, 1),
		journal:       j,
		subs:          map[chan Screen]struct{}{},
		faults:        cfg.Faults,
		faultsChanged: make(chan struct{}),
		executed:      map[string]int{},
	}
	t.screen = Screen{Name: ScreenOffline}
	t.screen.Lines = render(t.screen)
	return t, nil
}

func endpoint(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("simterm: server URL: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("simterm: server URL %q: want http(s):// or ws(s)://", server)
	}
	if u.Host == "" {
		return "", fmt.Errorf("simterm: server URL %q has no host", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + termproto.Path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// Run keeps the terminal connected until ctx ends, reconnecting with
// backoff. It returns nil when ctx ends, ErrReplaced when another
// connection took over the TID, and ErrCrashed when the CrashBeforeResult
// fault fired. A command still on screen when Run returns is abandoned
// without a result, as if the terminal were switched off: the next run
// reports it interrupted and does not run it again.
func (t *Terminal) Run(ctx context.Context) error {
	t.mu.Lock()
	switch {
	case t.crashed:
		t.mu.Unlock()
		return ErrCrashed
	case t.running:
		t.mu.Unlock()
		return errors.New("simterm: Run is already running")
	}
	t.running = true
	t.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		t.execs.Wait()
		t.mu.Lock()
		t.running = false
		t.setOnlineLocked(false, ScreenOffline, "")
		t.mu.Unlock()
	}()

	attempt := 0
	for {
		ep := t.endpoints[t.next]
		t.next = (t.next + 1) % len(t.endpoints)
		connected, err := t.session(ctx, ep)
		var told *reconnectError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrReplaced):
			t.log.Warn("another connection took over this TID; stopping")
			return err
		case errors.Is(err, ErrCrashed):
			t.log.Warn("simulated crash (fault)")
			return err
		}
		// Only a link that stayed up resets the backoff: a cloud that
		// welcomes and drops at once must not be hammered either.
		if connected >= maxBackoff {
			attempt = 0
		}
		delay := backoff(attempt)
		attempt++
		var refused *refusedError
		switch {
		case errors.As(err, &told):
			// The cloud chose the moment, spreading its terminals so
			// that the gateways taking them are not stormed.
			delay, attempt = told.after, 0
		case errors.As(err, &refused) && len(t.endpoints) == 1:
			// The only gateway asked to wait; with several, the next
			// one is tried after the usual backoff instead.
			delay = max(delay, refused.retryAfter)
		}
		// As text: slog's JSON handler writes a time.Duration as nanoseconds.
		retryIn := delay.Round(time.Millisecond).String()
		var auth *authError
		if told != nil {
			t.log.Info("the cloud asked to reconnect", "server", ep, "retry_in", retryIn, "next", t.endpoints[t.next])
		} else if errors.As(err, &auth) {
			t.log.Error("terminal authentication failed: check the TID and secret", "reason", auth.reason, "retry_in", retryIn)
		} else {
			t.log.Warn("terminal link down", "err", err, "retry_in", retryIn)
		}
		t.mu.Lock()
		t.setOnlineLocked(false, ScreenOffline, err.Error())
		t.mu.Unlock()
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-t.crash:
			timer.Stop()
			t.log.Warn("simulated crash (fault)")
			return ErrCrashed
		case <-timer.C:
		}
	}
}

// SetFaults replaces the active faults.
func (t *Terminal) SetFaults(f Faults) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setFaultsLocked(f)
}

// Faults returns the active faults; fired one-shot faults read as cleared.
func (t *Terminal) Faults() Faults {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.faults
}

func (t *Terminal) setFaultsLocked(f Faults) {
	t.faults = f
	close(t.faultsChanged)
	t.faultsChanged = make(chan struct{})
}

func (t *Terminal) silent() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.faults.Silent
}

// Executed reports how many operations of kind (sale, authorisation,
// reversal) the simulated acquirer performed, whatever their outcome.
func (t *Terminal) Executed(kind string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.executed[kind]
}

// Tap presents a card to the command waiting for one, or confirms a
// reversal. It reports whether a command was on screen to take it.
func (t *Terminal) Tap() bool { return t.input(inputTap) }

// Decline presents a card that the issuer declines; on a reversal the
// operator refuses it.
func (t *Terminal) Decline() bool { return t.input(inputDecline) }

// Cancel is the operator's cancel key: a command still waiting for the card
// (or the reversal confirmation) ends with outcome cancelled.
func (t *Terminal) Cancel() bool { return t.input(termproto.OutcomeCancelled) }

// input hands a key to the command on screen; once its card is read the
// key changes nothing, as on a real terminal.
func (t *Terminal) input(in string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exec == nil {
		return false
	}
	select {
	case t.exec.input <- in:
	default: // a key press is already pending
	}
	return true
}

// DropLink cuts the live connection without a close handshake, as a lost
// network would; the terminal reconnects with its usual backoff. It
// reports whether there was a connection to cut. The terminal is offline
// when it returns, so a caller that waits for it to be online again waits
// for the new connection.
func (t *Terminal) DropLink() bool {
	t.mu.Lock()
	s := t.sess
	if s != nil {
		t.sess = nil // frames sent from now on are lost, as on a cut cable
		t.setOnlineLocked(false, ScreenOffline, "link dropped")
	}
	t.mu.Unlock()
	if s == nil {
		return false
	}
	s.conn.CloseNow()
	return true
}
