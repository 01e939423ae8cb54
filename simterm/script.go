package simterm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posgate/posgate/termproto"
)

// What an Action does, for a sale or authorisation / for a reversal.
const (
	ActionTap     = "tap"     // present the card (the acquirer decides) / confirm
	ActionDecline = "decline" // a card the issuer declines / the operator refuses
	ActionCancel  = "cancel"  // the operator's cancel key: outcome cancelled
	ActionNoCard  = "no_card" // nobody acts: the command waits for the cloud's abort or its timeout_ms
	ActionTimeout = "timeout" // the wait for the card ends now: outcome expired
	ActionFail    = "fail"    // present the card / confirm; the acquirer errs: outcome failed
)

// Entry modes a presented card may be read with.
const (
	EntryContactless = "contactless"
	EntryChip        = "chip"
	EntrySwipe       = "swipe"
)

// Limits of the script, so a runaway client cannot grow the terminal.
const (
	MaxQueuedActions = 100
	MaxActionDelay   = 10 * time.Minute
	maxBrandLen      = 20
)

// Action is what the customer and the operator do with one command, set in
// advance (Queue, SetStanding) so that a program can choose every outcome
// without racing the screen. Magic amounts still choose the acquirer's
// answer after a tap; ActionFail overrides it.
type Action struct {
	Do string `json:"do"`
	// DelayMS is how long after the amount (or the reversal) is shown the
	// action happens; nil means Config.CardDelay.
	DelayMS *int64 `json:"delay_ms,omitempty"`
	// Brand and EntryMode describe the card presented by tap, decline
	// and fail (e.g. "visa", "contactless"); the card_read screen shows
	// them.
	Brand     string `json:"brand,omitempty"`
	EntryMode string `json:"entry_mode,omitempty"`
}

// ErrQueueFull is returned by Queue beyond MaxQueuedActions.
var ErrQueueFull = fmt.Errorf("simterm: %d actions are queued already", MaxQueuedActions)

// Check refuses an action the terminal could not perform, naming the field.
func (a Action) Check() error {
	switch a.Do {
	case ActionTap, ActionDecline, ActionCancel, ActionNoCard, ActionTimeout, ActionFail:
	case "":
		return errors.New("do is required: tap, decline, cancel, no_card, timeout or fail")
	default:
		return fmt.Errorf("do %q: want tap, decline, cancel, no_card, timeout or fail", a.Do)
	}
	if a.DelayMS != nil && (*a.DelayMS < 0 || time.Duration(*a.DelayMS)*time.Millisecond > MaxActionDelay) {
		return fmt.Errorf("delay_ms %d: want 0 to %d", *a.DelayMS, MaxActionDelay.Milliseconds())
	}
	if len(a.Brand) > maxBrandLen || strings.IndexFunc(a.Brand, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) >= 0 {
		return fmt.Errorf("brand %q: want at most %d lowercase letters, e.g. visa", a.Brand, maxBrandLen)
	}
	switch a.EntryMode {
	case "", EntryContactless, EntryChip, EntrySwipe:
	default:
		return fmt.Errorf("entry_mode %q: want contactless, chip or swipe", a.EntryMode)
	}
	return nil
}

// Queue adds a to the actions of the next commands: each command that
// starts executing (sale, authorisation or reversal; not a re-sent one)
// takes the oldest queued action.
func (t *Terminal) Queue(a Action) error {
	if err := a.Check(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queued) >= MaxQueuedActions {
		return ErrQueueFull
	}
	t.queued = append(t.queued, a)
	return nil
}

// ClearQueue drops the queued actions.
func (t *Terminal) ClearQueue() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.queued = nil
}

// SetStanding makes a the action of every command for which none is
// queued; nil goes back to the default (AutoTap and magic amounts, or the
// keys).
func (t *Terminal) SetStanding(a *Action) error {
	if a != nil {
		if err := a.Check(); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.standing = a
	return nil
}

// Script returns the queued actions, oldest first, and the standing one.
func (t *Terminal) Script() ([]Action, *Action) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Action(nil), t.queued...), t.standing
}

// nextActionLocked takes the action of a command that starts executing.
func (t *Terminal) nextActionLocked() *Action {
	if len(t.queued) > 0 {
		a := t.queued[0]
		t.queued = t.queued[1:]
		return &a
	}
	return t.standing
}

// planned is the input a command gets by itself, and when: the scripted
// action's, else AutoTap's unless the magic amount keeps the card away.
// An empty input waits for keys, the cloud's abort or the timeout.
func (t *Terminal) planned(x *execution, noCard bool) (string, time.Duration) {
	a := x.action
	if a == nil {
		if noCard || !t.cfg.AutoTap {
			return "", 0
		}
		return inputTap, t.cfg.CardDelay
	}
	delay := t.cfg.CardDelay
	if a.DelayMS != nil {
		delay = time.Duration(*a.DelayMS) * time.Millisecond
	}
	switch a.Do {
	case ActionTap, ActionFail:
		return inputTap, delay
	case ActionDecline:
		return inputDecline, delay
	case ActionCancel:
		return termproto.OutcomeCancelled, delay
	case ActionTimeout:
		return termproto.OutcomeExpired, delay
	}
	return "", 0 // ActionNoCard
}

// scripted applies ActionFail to the acquirer's behaviour.
func scripted(x *execution, b magic) magic {
	if x.action != nil && x.action.Do == ActionFail {
		return magic{outcome: termproto.OutcomeFailed, message: "Acquirer error (scripted)"}
	}
	return b
}

// cardNote is what the card_read screen says about the card presented.
func cardNote(x *execution) string {
	if x.action == nil {
		return ""
	}
	return strings.TrimSpace(strings.ToUpper(x.action.Brand) + " " + x.action.EntryMode)
}
