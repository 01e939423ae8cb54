// Package tui shows a simulated terminal as a full-screen POS display in a
// text terminal, with keys for the card and the operator.
package tui

import (
	"context"
	"errors"
	"strings"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/posgate/posgate/simterm"
)

// Run shows the terminal described by cfg until the user quits or ctx ends.
// It returns what simterm.Terminal.Run returns (ErrReplaced, ErrCrashed or
// nil). Log lines written to the text terminal would tear the display, so
// cfg.Logger should write to a file, or be nil to discard.
func Run(ctx context.Context, cfg simterm.Config) error {
	t, err := simterm.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := tea.NewProgram(newModel(cfg.TID, t), tea.WithAltScreen(), tea.WithContext(ctx))

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

type model struct {
	tid    string
	keys   controls
	screen simterm.Screen
	err    error
}

func newModel(tid string, keys controls) model {
	return model{tid: tid, keys: keys, screen: simterm.Screen{Name: simterm.ScreenOffline}}
}

func (m model) Init() tea.Cmd { return nil }

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case simterm.Screen:
		m.screen = msg
	case runDone:
		m.err = msg.err
		return m, tea.Quit
	case tea.KeyMsg:
		switch msg.String() {
		case "t", " ", "enter":
			m.keys.Tap()
		case "d":
			m.keys.Decline()
		case "c":
			m.keys.Cancel()
		case "q", "ctrl+c":
			return m, tea.Quit
		}
	}
	return m, nil
}

const displayWidth = 44

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
	money := strings.TrimSpace(s.Currency + " " + s.Amount)
	for _, l := range s.Lines {
		switch {
		case l == money: // already shown big
		case isHeadline(l):
			rows = append(rows, centred.Inherit(tone(s.Name)).Render(l))
		default:
			rows = append(rows, centred.Render(l))
		}
	}
	if p := progress(s.Name); p != "" {
		rows = append(rows, "", centred.Render(p))
	}
	if m.err != nil {
		rows = append(rows, "", lipgloss.NewStyle().Foreground(red).Width(displayWidth-2).Render(m.err.Error()))
	}
	legend := legendStyle.Render("t/space/enter tap card · d decline · c cancel · q quit")
	return lipgloss.JoinVertical(lipgloss.Left, boxStyle.Render(strings.Join(rows, "\n")), legend) + "\n"
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
		{"amount", simterm.ScreenAmount}, {"card", simterm.ScreenCardRead},
		{"authorise", simterm.ScreenAuthorising}, {"result", ""},
	}
	reversalSteps = []step{
		{"confirm", simterm.ScreenReversalRequested}, {"processing", simterm.ScreenReversalProcessing}, {"result", ""},
	}
)

// progress is a stepper: done steps filled, the current one marked, the
// rest hollow.
func progress(name string) string {
	steps := paymentSteps
	switch name {
	case simterm.ScreenOffline, simterm.ScreenConnecting, simterm.ScreenIdle:
		return ""
	case simterm.ScreenReversalRequested, simterm.ScreenReversalProcessing,
		simterm.ScreenReversalApproved, simterm.ScreenReversalDeclined:
		steps = reversalSteps
	}
	at := len(steps) - 1 // any other screen is a result
	for i, st := range steps {
		if st.screen == name {
			at = i
		}
	}
	parts := make([]string, len(steps))
	for i, st := range steps {
		switch {
		case i < at:
			parts[i] = "● " + st.label
		case i == at:
			parts[i] = tone(name).Render("◉ " + st.label)
		default:
			parts[i] = faint.Render("○ " + st.label)
		}
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
