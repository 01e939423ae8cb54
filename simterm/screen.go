package simterm

import "strings"

// Screen names, the states of the simulated POS display.
const (
	ScreenOffline            = "offline"    // no connection to the cloud
	ScreenConnecting         = "connecting" // dialling and saying hello
	ScreenIdle               = "idle"       // connected, ready for a command
	ScreenAmount             = "amount"     // amount shown, "tap card"
	ScreenCardRead           = "card_read"
	ScreenAuthorising        = "authorising"
	ScreenApproved           = "approved"
	ScreenDeclined           = "declined"
	ScreenCancelled          = "cancelled"
	ScreenExpired            = "expired"
	ScreenFailed             = "failed"
	ScreenReversalRequested  = "reversal_requested" // reversal shown, waiting for the operator's OK
	ScreenReversalProcessing = "reversal_processing"
	ScreenReversalApproved   = "reversal_approved"
	ScreenReversalDeclined   = "reversal_declined"
)

// Screen is what the terminal displays. Lines is the text of a POS display;
// the other fields let programs follow the terminal without parsing Lines.
type Screen struct {
	Name string
	// Kind is the command's: sale, authorisation or reversal.
	Kind      string
	CommandID string
	TradeID   string
	Amount    string
	Currency  string
	Message   string
	// Receipt is an approval's card data, for the receipt.
	Receipt Receipt
	Lines   []string
	// Online is the connection status, shown in the display's status bar.
	// It is kept apart from Name because a transaction on screen stays there
	// while the link drops and comes back.
	Online bool
}

// subBuffer is each subscriber's backlog. A slower subscriber loses the
// oldest screens, never the newest: a display must end on the current state.
const subBuffer = 64

// Subscribe returns a channel that first receives the current screen and then
// every change. The engine never blocks on it: when the buffer is full the
// oldest screen is dropped. The returned function unsubscribes and closes the
// channel.
func (t *Terminal) Subscribe() (<-chan Screen, func()) {
	ch := make(chan Screen, subBuffer)
	t.mu.Lock()
	defer t.mu.Unlock()
	ch <- t.screen
	t.subs[ch] = struct{}{}
	return ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.subs[ch]; ok {
			delete(t.subs, ch)
			close(ch)
		}
	}
}

// Current returns the screen being displayed.
func (t *Terminal) Current() Screen {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.screen
}

// showLocked displays s and fans it out. The caller holds t.mu, which also
// makes this the only sender on every subscriber channel, so the
// drop-oldest dance below cannot block.
func (t *Terminal) showLocked(s Screen) {
	s.Online = t.online
	s.Lines = render(s)
	if sameScreen(s, t.screen) {
		return
	}
	t.screen = s
	for ch := range t.subs {
		select {
		case ch <- s:
		default:
			select {
			case <-ch:
			default:
			}
			ch <- s
		}
	}
}

// setOnlineLocked records the link state. Without a transaction on screen
// the display follows the link; with one, only the status bar changes.
func (t *Terminal) setOnlineLocked(online bool, name, message string) {
	t.online = online
	if t.exec != nil {
		s := t.screen
		t.showLocked(s)
		return
	}
	t.showLocked(Screen{Name: name, Message: message})
}

// sameScreen ignores Lines, which render derives from the other fields.
func sameScreen(a, b Screen) bool {
	return a.Name == b.Name && a.Kind == b.Kind && a.CommandID == b.CommandID && a.TradeID == b.TradeID &&
		a.Amount == b.Amount && a.Currency == b.Currency && a.Message == b.Message && a.Online == b.Online &&
		a.Receipt == b.Receipt
}

func render(s Screen) []string {
	money := strings.TrimSpace(s.Currency + " " + s.Amount)
	var lines []string
	add := func(l ...string) {
		for _, x := range l {
			if x != "" {
				lines = append(lines, x)
			}
		}
	}
	switch s.Name {
	case ScreenOffline:
		add("OFFLINE", s.Message)
	case ScreenConnecting:
		add("Connecting...", s.Message)
	case ScreenIdle:
		add("Ready", s.Message)
	case ScreenAmount:
		add(money, s.Message, "Tap, insert or swipe card")
	case ScreenCardRead:
		add(money, "Card read", "Do not remove card")
	case ScreenAuthorising:
		add(money, "Authorising...", "Please wait")
	case ScreenApproved:
		add(money, "APPROVED", s.Message)
		if r := s.Receipt; r.MaskedPAN != "" {
			add(r.Brand+" "+r.MaskedPAN, r.EntryMode+" auth "+r.AuthCode, r.AID)
		}
	case ScreenDeclined:
		add(money, "DECLINED", s.Message)
	case ScreenCancelled:
		add(money, "CANCELLED", s.Message)
	case ScreenExpired:
		add(money, "TIMED OUT", s.Message)
	case ScreenFailed:
		add(money, "FAILED", s.Message)
	case ScreenReversalRequested:
		add("REVERSAL", money, "Press OK to confirm")
	case ScreenReversalProcessing:
		add("REVERSAL", money, "Processing...")
	case ScreenReversalApproved:
		add("REVERSAL", money, "APPROVED", s.Message)
	case ScreenReversalDeclined:
		add("REVERSAL", money, "DECLINED", s.Message)
	}
	return lines
}
