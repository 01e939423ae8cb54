package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termproto"
)

type keyLog []string

func (k *keyLog) Tap() bool     { *k = append(*k, "tap"); return true }
func (k *keyLog) Decline() bool { *k = append(*k, "decline"); return true }
func (k *keyLog) Cancel() bool  { *k = append(*k, "cancel"); return true }

// ticks records each hold the model asks for, and hands its message back
// at once: the test decides when time has passed.
type ticks struct{ asked []time.Duration }

func (tk *ticks) tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	tk.asked = append(tk.asked, d)
	return func() tea.Msg { return fn(time.Time{}) }
}

func testModel(keys controls, hold time.Duration) (model, *ticks) {
	m := newModel("T125119061", keys, Options{ResultHold: hold})
	tk := &ticks{}
	m.tick = tk.tick
	return m, tk
}

func update(t *testing.T, m tea.Model, msg tea.Msg) (tea.Model, tea.Cmd) {
	t.Helper()
	return m.Update(msg)
}

// screen is what the engine sends: Lines rendered by simterm's own rules.
func screen(name, kind, cmd string) simterm.Screen {
	s := simterm.Screen{Name: name, Kind: kind, CommandID: cmd, TradeID: "trade-" + cmd, Amount: "12.50", Currency: "EUR", Online: true}
	switch name {
	case simterm.ScreenAmount:
		s.Lines = []string{"EUR 12.50", "Tap, insert or swipe card"}
	case simterm.ScreenCardRead:
		s.Lines = []string{"EUR 12.50", "Card read", "Do not remove card"}
	case simterm.ScreenAuthorising:
		s.Lines = []string{"EUR 12.50", "Authorising...", "Please wait"}
	case simterm.ScreenApproved:
		s.Lines = []string{"EUR 12.50", "APPROVED", "Approved"}
	case simterm.ScreenCancelled:
		s.Lines = []string{"EUR 12.50", "CANCELLED", "Cancelled"}
	case simterm.ScreenReversalRequested:
		s.Lines = []string{"REVERSAL", "EUR 12.50", "Press OK to confirm"}
	case simterm.ScreenReversalDeclined:
		s.Lines = []string{"REVERSAL", "EUR 12.50", "DECLINED", "Reversal refused by the operator"}
	}
	return s
}

func TestEachScreenNamesItsKeys(t *testing.T) {
	var keys keyLog
	m, _ := testModel(&keys, 0)
	var tm tea.Model = m
	v := tm.View()
	assert.Contains(t, v, "offline")
	assert.Contains(t, v, "q quit")
	assert.NotContains(t, v, "present card", "nothing to present a card to")

	tm, _ = update(t, tm, simterm.Screen{Name: simterm.ScreenIdle, Online: true, Lines: []string{"Ready"}})
	assert.Contains(t, tm.View(), "online")
	assert.Contains(t, tm.View(), "Ready")

	tm, _ = update(t, tm, screen(simterm.ScreenAmount, termproto.KindSale, "c1"))
	v = tm.View()
	assert.Contains(t, v, "SALE")
	assert.Contains(t, v, "|_ ", "amount drawn big")
	assert.Contains(t, v, "Tap, insert or swipe card")
	assert.Contains(t, v, "enter/t/space present card")
	assert.Contains(t, v, "d declined card")
	assert.Contains(t, v, "c cancel")

	tm, _ = update(t, tm, screen(simterm.ScreenReversalRequested, termproto.KindReversal, "r1"))
	v = tm.View()
	assert.Contains(t, v, "REVERSAL")
	assert.Contains(t, v, "Press OK [enter/t] to confirm", "the display says which key is OK")
	assert.Contains(t, v, "enter/t OK: confirm reversal")
	assert.Contains(t, v, "d refuse reversal")

	tm, _ = update(t, tm, screen(simterm.ScreenCardRead, termproto.KindSale, "c2"))
	v = tm.View()
	assert.NotContains(t, v, "present card", "once the card is read no key changes the outcome")
	assert.Contains(t, v, "q quit")
}

func TestKeysActOnlyWhereNamed(t *testing.T) {
	var keys keyLog
	m, _ := testModel(&keys, 0)
	var tm tea.Model = m
	press := func(k tea.KeyMsg) {
		var cmd tea.Cmd
		tm, cmd = update(t, tm, k)
		assert.Nil(t, cmd, k.String())
	}
	all := []tea.KeyMsg{
		{Type: tea.KeyRunes, Runes: []rune("t")}, {Type: tea.KeySpace, Runes: []rune(" ")}, {Type: tea.KeyEnter},
		{Type: tea.KeyRunes, Runes: []rune("d")}, {Type: tea.KeyRunes, Runes: []rune("c")},
	}
	for _, k := range all {
		press(k) // offline: nothing on screen
	}
	assert.Empty(t, keys)

	tm, _ = update(t, tm, screen(simterm.ScreenAmount, termproto.KindSale, "c1"))
	for _, k := range all {
		press(k)
	}
	assert.Equal(t, keyLog{"tap", "tap", "tap", "decline", "cancel"}, keys)

	keys = nil
	tm, _ = update(t, tm, screen(simterm.ScreenAuthorising, termproto.KindSale, "c1"))
	for _, k := range all {
		press(k)
	}
	assert.Empty(t, keys, "authorising: the keys are off")

	for _, k := range []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("q")}, {Type: tea.KeyCtrlC}} {
		_, cmd := update(t, tm, k)
		require.NotNil(t, cmd)
		assert.IsType(t, tea.QuitMsg{}, cmd(), k.String())
	}
}

func TestResultGoesBackToIdleAfterTheHold(t *testing.T) {
	var keys keyLog
	m, tk := testModel(&keys, 4*time.Second)
	var tm tea.Model = m
	tm, cmd := update(t, tm, screen(simterm.ScreenAmount, termproto.KindSale, "c1"))
	assert.Nil(t, cmd, "no hold before a result")
	tm, cmd = update(t, tm, screen(simterm.ScreenApproved, termproto.KindSale, "c1"))
	require.NotNil(t, cmd)
	assert.Equal(t, []time.Duration{4 * time.Second}, tk.asked)
	assert.Contains(t, tm.View(), "APPROVED")

	tm, _ = update(t, tm, cmd()) // the hold is over
	v := tm.View()
	assert.Contains(t, v, "Ready")
	assert.Contains(t, v, "last: approved EUR 12.50")
	assert.NotContains(t, v, "APPROVED")

	// A hold that ends after the next command started changes nothing.
	tm, cmd = update(t, tm, screen(simterm.ScreenCancelled, termproto.KindSale, "c2"))
	stale := cmd()
	tm, _ = update(t, tm, screen(simterm.ScreenAmount, termproto.KindSale, "c3"))
	tm, _ = update(t, tm, stale)
	assert.Contains(t, tm.View(), "Tap, insert or swipe card")

	// Hold 0 keeps results.
	m0, tk0 := testModel(&keys, 0)
	_, cmd = update(t, m0, screen(simterm.ScreenApproved, termproto.KindSale, "c1"))
	assert.Nil(t, cmd)
	assert.Empty(t, tk0.asked)
}

func TestStepsShowWhatHappened(t *testing.T) {
	var keys keyLog
	m, _ := testModel(&keys, 0)
	var tm tea.Model = m
	steps := func() string {
		v := tm.View()
		for l := range strings.SplitSeq(v, "\n") {
			if strings.Contains(l, "›") {
				return strings.Trim(l, "│ ")
			}
		}
		t.Fatalf("no steps in\n%s", v)
		return ""
	}
	// A sale cancelled on the amount screen never read a card.
	tm, _ = update(t, tm, screen(simterm.ScreenAmount, termproto.KindSale, "c1"))
	assert.Equal(t, "◉ amount › ○ card › ○ authorise › ○ result", steps())
	tm, _ = update(t, tm, screen(simterm.ScreenCancelled, termproto.KindSale, "c1"))
	assert.Equal(t, "● amount › – card › – authorise › ◉ cancelled", steps())

	// An approved one went through every step.
	for _, name := range []string{simterm.ScreenAmount, simterm.ScreenCardRead, simterm.ScreenAuthorising, simterm.ScreenApproved} {
		tm, _ = update(t, tm, screen(name, termproto.KindSale, "c2"))
	}
	assert.Equal(t, "● amount › ● card › ● authorise › ◉ approved", steps())

	// A reversal the operator refused was never processed.
	tm, _ = update(t, tm, screen(simterm.ScreenReversalRequested, termproto.KindReversal, "r1"))
	tm, _ = update(t, tm, screen(simterm.ScreenReversalDeclined, termproto.KindReversal, "r1"))
	assert.Equal(t, "● confirm › – processing › ◉ reversal declined", steps())
}

func TestAuthorisationScreens(t *testing.T) {
	var keys keyLog
	m, _ := testModel(&keys, 0)
	var tm tea.Model = m
	tm, _ = update(t, tm, screen(simterm.ScreenAmount, termproto.KindAuthorisation, "a1"))
	v := tm.View()
	assert.Contains(t, v, "AUTHORISATION")
	assert.NotContains(t, v, "SALE")
	tm, _ = update(t, tm, screen(simterm.ScreenCardRead, termproto.KindAuthorisation, "a1"))
	tm, _ = update(t, tm, screen(simterm.ScreenAuthorising, termproto.KindAuthorisation, "a1"))
	tm, _ = update(t, tm, screen(simterm.ScreenApproved, termproto.KindAuthorisation, "a1"))
	v = tm.View()
	assert.Contains(t, v, "AUTHORISED")
	assert.NotContains(t, v, "APPROVED")
	assert.Contains(t, v, "Authorised amount EUR 12.50")
	assert.Contains(t, v, "◉ authorised")
}

func TestRunDoneQuitsAndShowsWhy(t *testing.T) {
	var keys keyLog
	m, _ := testModel(&keys, 0)
	tm, cmd := update(t, m, runDone{simterm.ErrReplaced})
	assert.IsType(t, tea.QuitMsg{}, cmd())
	assert.Contains(t, tm.View(), "replaced")
	assert.True(t, errors.Is(tm.(model).err, simterm.ErrReplaced))
}
