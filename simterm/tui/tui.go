// Package tui shows a simulated terminal as a full-screen POS display in a
// text terminal, with keys for the card and the operator.
package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termproto"
)

// Options configure the display.
type Options struct {
	// ResultHold is how long a result screen (approved, declined...) stays
	// before the display goes back to idle, as a real terminal's does; 0
	// keeps it until the next command.
	ResultHold time.Duration
}

// Run shows the terminal described by cfg until the user quits or ctx ends.
// It returns what simterm.Terminal.Run returns (ErrReplaced, ErrCrashed or
// nil). Log lines written to the text terminal would tear the display, so
// cfg.Logger should write to a file, or be nil to discard.
func Run(ctx context.Context, cfg simterm.Config, opts Options) error {
	t, err := simterm.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := tea.NewProgram(newModel(cfg.TID, t, opts), tea.WithAltScreen(), tea.WithContext(ctx))

	screens, unsubscribe := t.Subscribe()
	var forward sync.WaitGroup
	forward.Go(func() {
		for s := range screens {
			p.Send(s)
		}
	})
	runErr := make(chan error, 1)
	go func() {
		err := t.Run(ctx)
		runErr <- err
		p.Send(runDone{err})
	}()

	_, uiErr := p.Run()
	cancel()
	err = <-runErr
	unsubscribe()
	forward.Wait()
	switch {
	case err != nil:
		return err
	case uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled):
		return uiErr
	}
	return nil
}

// controls is the part of *simterm.Terminal the keys drive.
type controls interface {
	Tap() bool
	Decline() bool
	Cancel() bool
}

// runDone says the engine stopped; the display shows why and quits.
type runDone struct{ err error }

// backToIdle ends the hold of the result screen numbered seq.
type backToIdle struct{ seq int }

// keyMap holds the terminal's keys; which of them a screen takes, and what
// each means there, is keysFor's choice.
type keyMap struct {
	OK, Decline, Cancel, Quit key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		OK:      key.NewBinding(key.WithKeys("enter", "t", " ")),
		Decline: key.NewBinding(key.WithKeys("d")),
		Cancel:  key.NewBinding(key.WithKeys("c")),
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// keysFor enables the keys the screen takes and names them as it uses
// them: on a payment OK presents the card, on a reversal it confirms.
func keysFor(name string) keyMap {
	k := newKeyMap()
	switch name {
	case simterm.ScreenAmount:
		k.OK.SetHelp("enter/t/space", "present card")
		k.Decline.SetHelp("d", "declined card")
		k.Cancel.SetHelp("c", "cancel")
	case simterm.ScreenReversalRequested:
		k.OK.SetHelp("enter/t", "OK: confirm reversal")
		k.Decline.SetHelp("d", "refuse reversal")
		k.Cancel.SetHelp("c", "cancel")
	default:
		// Once the card is read the acquirer's answer stands; no key
		// changes it.
		k.OK.SetEnabled(false)
		k.Decline.SetEnabled(false)
		k.Cancel.SetEnabled(false)
	}
	return k
}

// ShortHelp is help.KeyMap's: the keys of this screen.
func (k keyMap) ShortHelp() []key.Binding { return []key.Binding{k.OK, k.Decline, k.Cancel, k.Quit} }

// FullHelp is help.KeyMap's; the short help says it all.
func (k keyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// tickFunc is tea.Tick, injected so tests end a hold without waiting.
type tickFunc func(time.Duration, func(time.Time) tea.Msg) tea.Cmd

type model struct {
	tid    string
	ctl    controls
	screen simterm.Screen
	// seen holds the screens the command on display went through, so the
	// steps show what happened rather than what usually happens.
	seen map[string]bool
	// idle is set once a result was held long enough: the display shows
	// idle, naming the last result, until the engine shows something else.
	idle    bool
	holdSeq int
	hold    time.Duration
	tick    tickFunc
	help    help.Model
	err     error
}

func newModel(tid string, ctl controls, opts Options) model {
	h := help.New()
	h.Styles.ShortKey = lipgloss.NewStyle().Bold(true)
	h.Styles.ShortDesc = lipgloss.NewStyle().Foreground(grey)
	return model{tid: tid, ctl: ctl, screen: simterm.Screen{Name: simterm.ScreenOffline}, seen: map[string]bool{},
		hold: opts.ResultHold, tick: tea.Tick, help: h}
}

func (m model) Init() tea.Cmd { return nil }

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case simterm.Screen:
		if msg.CommandID != m.screen.CommandID {
			m.seen = map[string]bool{}
		}
		m.screen, m.idle = msg, false
		m.seen[msg.Name] = true
		if isResult(msg.Name) && m.hold > 0 {
			m.holdSeq++
			seq := m.holdSeq
			return m, m.tick(m.hold, func(time.Time) tea.Msg { return backToIdle{seq} })
		}
	case backToIdle:
		// A later screen, or a later result, has its own hold.
		if msg.seq == m.holdSeq && isResult(m.screen.Name) {
			m.idle = true
		}
	case runDone:
		m.err = msg.err
		return m, tea.Quit
	case tea.KeyMsg:
		k := keysFor(m.shown())
		switch {
		case key.Matches(msg, k.Quit):
			return m, tea.Quit
		case key.Matches(msg, k.OK):
			m.ctl.Tap()
		case key.Matches(msg, k.Decline):
			m.ctl.Decline()
		case key.Matches(msg, k.Cancel):
			m.ctl.Cancel()
		}
	case tea.WindowSizeMsg:
		m.help.Width = msg.Width
	}
	return m, nil
}

// shown is the name of the screen on display.
func (m model) shown() string {
	if m.idle {
		return simterm.ScreenIdle
	}
	return m.screen.Name
}

func isResult(name string) bool {
	switch name {
	case simterm.ScreenApproved, simterm.ScreenDeclined, simterm.ScreenCancelled, simterm.ScreenExpired,
		simterm.ScreenFailed, simterm.ScreenReversalApproved, simterm.ScreenReversalDeclined:
		return true
	}
	return false
}

const displayWidth = 50

var (
	green  = lipgloss.Color("42")
	red    = lipgloss.Color("196")
	yellow = lipgloss.Color("214")
	grey   = lipgloss.Color("244")

	boxStyle = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).
			BorderForeground(lipgloss.Color("63")).Padding(0, 1).Width(displayWidth)
	centred     = lipgloss.NewStyle().Width(displayWidth - 2).Align(lipgloss.Center)
	faint       = lipgloss.NewStyle().Foreground(grey)
	legendStyle = lipgloss.NewStyle().Foreground(grey).PaddingLeft(1)
)

// tone is the colour a screen's headline takes, like a real terminal's
// green and red result screens.
func tone(name string) lipgloss.Style {
	s := lipgloss.NewStyle().Bold(true)
	switch name {
	case simterm.ScreenApproved, simterm.ScreenReversalApproved:
		return s.Foreground(green)
	case simterm.ScreenDeclined, simterm.ScreenFailed, simterm.ScreenReversalDeclined:
		return s.Foreground(red)
	case simterm.ScreenCancelled, simterm.ScreenExpired:
		return s.Foreground(yellow)
	}
	return s
}

func (m model) View() string {
	s := m.screen
	status := lipgloss.NewStyle().Foreground(green).Render("● online")
	switch {
	case s.Online:
	case s.Name == simterm.ScreenConnecting:
		status = lipgloss.NewStyle().Foreground(yellow).Render("◌ connecting")
	default:
		status = lipgloss.NewStyle().Foreground(red).Render("○ offline")
	}
	gap := max(1, displayWidth-2-lipgloss.Width(m.tid)-lipgloss.Width(status))
	rows := []string{m.tid + strings.Repeat(" ", gap) + status, ""}

	if m.idle {
		rows = append(rows, centred.Render("Ready"))
		if last := resultWord(s); last != "" {
			rows = append(rows, "", centred.Render(faint.Render("last: "+last+" "+money(s))))
		}
	} else {
		rows = append(rows, m.display(s)...)
	}
	if m.err != nil {
		rows = append(rows, "", lipgloss.NewStyle().Foreground(red).Width(displayWidth-2).Render(m.err.Error()))
	}
	legend := legendStyle.Render(m.help.ShortHelpView(keysFor(m.shown()).ShortHelp()))
	return lipgloss.JoinVertical(lipgloss.Left, boxStyle.Render(strings.Join(rows, "\n")), legend) + "\n"
}

// display draws the engine's screen: what the command is, its amount big,
// the screen's lines with the keys named, the steps.
func (m model) display(s simterm.Screen) []string {
	var rows []string
	if t := title(s.Kind); t != "" {
		rows = append(rows, centred.Bold(true).Render(t))
	}
	if s.Amount != "" {
		rows = append(rows, centred.Render(faint.Render(s.Currency)))
		big := bigDigits(s.Amount)
		if lipgloss.Width(big[0]) > displayWidth-2 {
			big = []string{s.Amount} // too long to draw big
		}
		for _, l := range big {
			rows = append(rows, centred.Bold(true).Render(l))
		}
		rows = append(rows, "")
	}
	for _, l := range s.Lines {
		switch {
		case l == money(s), l == title(s.Kind): // already shown, big or on top
		case l == "APPROVED" && s.Kind == termproto.KindAuthorisation:
			rows = append(rows, centred.Inherit(tone(s.Name)).Render("AUTHORISED"))
		case isHeadline(l):
			rows = append(rows, centred.Inherit(tone(s.Name)).Render(l))
		case l == "Press OK to confirm":
			// The display's own words, with the key that is OK here.
			rows = append(rows, centred.Render("Press OK ["+keysFor(s.Name).OK.Help().Key+"] to confirm"))
		default:
			rows = append(rows, centred.Render(l))
		}
	}
	if s.Name == simterm.ScreenApproved && s.Kind == termproto.KindAuthorisation {
		rows = append(rows, centred.Render("Authorised amount "+money(s)), centred.Render(faint.Render("held on the card until captured")))
	}
	if p := progress(s, m.seen); p != "" {
		rows = append(rows, "", centred.Render(p))
	}
	return rows
}

func money(s simterm.Screen) string { return strings.TrimSpace(s.Currency + " " + s.Amount) }

// title names the command, as a terminal heads its screens.
func title(kind string) string {
	switch kind {
	case termproto.KindSale:
		return "SALE"
	case termproto.KindAuthorisation:
		return "AUTHORISATION"
	case termproto.KindReversal:
		return "REVERSAL"
	}
	return ""
}

// resultWord is what a result screen says happened; "" for others.
func resultWord(s simterm.Screen) string {
	switch s.Name {
	case simterm.ScreenApproved:
		if s.Kind == termproto.KindAuthorisation {
			return "authorised"
		}
		return "approved"
	case simterm.ScreenExpired:
		return "timed out"
	case simterm.ScreenReversalApproved:
		return "reversal approved"
	case simterm.ScreenReversalDeclined:
		return "reversal declined"
	case simterm.ScreenDeclined, simterm.ScreenCancelled, simterm.ScreenFailed:
		return s.Name
	}
	return ""
}

func isHeadline(l string) bool {
	switch l {
	case "APPROVED", "DECLINED", "CANCELLED", "TIMED OUT", "FAILED", "REVERSAL", "OFFLINE":
		return true
	}
	return false
}

type step struct{ label, screen string }

var (
	paymentSteps = []step{
		{"amount", simterm.ScreenAmount}, {"card", simterm.ScreenCardRead}, {"authorise", simterm.ScreenAuthorising},
	}
	reversalSteps = []step{
		{"confirm", simterm.ScreenReversalRequested}, {"processing", simterm.ScreenReversalProcessing},
	}
)

// progress is a stepper of what the command went through: steps passed
// filled, the current one marked, steps to come hollow, and, once there is
// a result, the steps it skipped struck out (a sale cancelled on the
// amount screen never read a card) and the result named.
func progress(s simterm.Screen, seen map[string]bool) string {
	steps := paymentSteps
	switch s.Name {
	case simterm.ScreenOffline, simterm.ScreenConnecting, simterm.ScreenIdle:
		return ""
	}
	if s.Kind == termproto.KindReversal {
		steps = reversalSteps
	}
	done := isResult(s.Name)
	var parts []string
	for _, st := range steps {
		switch {
		case st.screen == s.Name:
			parts = append(parts, tone(s.Name).Render("◉ "+st.label))
		case seen[st.screen]:
			parts = append(parts, "● "+st.label)
		case done:
			parts = append(parts, faint.Render("– "+st.label))
		default:
			parts = append(parts, faint.Render("○ "+st.label))
		}
	}
	if done {
		parts = append(parts, tone(s.Name).Render("◉ "+resultWord(s)))
	} else {
		parts = append(parts, faint.Render("○ result"))
	}
	return strings.Join(parts, faint.Render(" › "))
}

// font is a seven-segment face, three rows high, for the amount.
var font = map[rune][3]string{
	'0': {" _ ", "| |", "|_|"}, '1': {" ", "|", "|"}, '2': {" _ ", " _|", "|_ "},
	'3': {" _ ", " _|", " _|"}, '4': {"   ", "|_|", "  |"}, '5': {" _ ", "|_ ", " _|"},
	'6': {" _ ", "|_ ", "|_|"}, '7': {" _ ", "  |", "  |"}, '8': {" _ ", "|_|", "|_|"},
	'9': {" _ ", "|_|", " _|"}, '.': {" ", " ", "."}, ',': {" ", " ", ","},
}

func bigDigits(amount string) []string {
	var rows [3]strings.Builder
	for _, r := range amount {
		g, ok := font[r]
		if !ok {
			g = [3]string{" ", string(r), " "}
		}
		for i := range rows {
			if rows[i].Len() > 0 {
				rows[i].WriteByte(' ')
			}
			rows[i].WriteString(g[i])
		}
	}
	return []string{rows[0].String(), rows[1].String(), rows[2].String()}
}
