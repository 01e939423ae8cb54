package tui

import (
	"errors"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/stretchr/testify/assert"

	"github.com/posgate/posgate/simterm"
)

type keyLog []string

func (k *keyLog) Tap() bool     { *k = append(*k, "tap"); return true }
func (k *keyLog) Decline() bool { *k = append(*k, "decline"); return true }
func (k *keyLog) Cancel() bool  { *k = append(*k, "cancel"); return true }

func TestViewFollowsScreens(t *testing.T) {
	var keys keyLog
	var m tea.Model = newModel("T125119061", &keys)
	assert.Contains(t, m.View(), "T125119061")
	assert.Contains(t, m.View(), "offline")

	m, _ = m.Update(simterm.Screen{Name: simterm.ScreenIdle, Online: true, Lines: []string{"Ready"}})
	assert.Contains(t, m.View(), "online")
	assert.Contains(t, m.View(), "Ready")

	m, _ = m.Update(simterm.Screen{Name: simterm.ScreenAmount, Online: true, CommandID: "c1", Amount: "12.50", Currency: "EUR",
		Lines: []string{"EUR 12.50", "Tap, insert or swipe card"}})
	v := m.View()
	assert.Contains(t, v, "EUR")
	assert.Contains(t, v, "|_ ", "amount drawn big")
	assert.Contains(t, v, "Tap, insert or swipe card")
	assert.Contains(t, v, "amount")
	assert.Contains(t, v, "t/space/enter tap card")

	m, _ = m.Update(simterm.Screen{Name: simterm.ScreenApproved, Online: true, Amount: "12.50", Currency: "EUR",
		Lines: []string{"EUR 12.50", "APPROVED", "Approved"}})
	assert.Contains(t, m.View(), "APPROVED")

	m, _ = m.Update(simterm.Screen{Name: simterm.ScreenReversalRequested, Online: true, Amount: "12.50", Currency: "EUR",
		Lines: []string{"REVERSAL", "EUR 12.50", "Press OK to confirm"}})
	assert.Contains(t, m.View(), "REVERSAL")
	assert.Contains(t, m.View(), "confirm")
}

func TestKeys(t *testing.T) {
	var keys keyLog
	var m tea.Model = newModel("T1", &keys)
	for _, k := range []tea.KeyMsg{
		{Type: tea.KeyRunes, Runes: []rune("t")}, {Type: tea.KeySpace, Runes: []rune(" ")}, {Type: tea.KeyEnter},
		{Type: tea.KeyRunes, Runes: []rune("d")}, {Type: tea.KeyRunes, Runes: []rune("c")},
	} {
		var cmd tea.Cmd
		m, cmd = m.Update(k)
		assert.Nil(t, cmd, k.String())
	}
	assert.Equal(t, keyLog{"tap", "tap", "tap", "decline", "cancel"}, keys)

	for _, k := range []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("q")}, {Type: tea.KeyCtrlC}} {
		_, cmd := m.Update(k)
		assert.IsType(t, tea.QuitMsg{}, cmd(), k.String())
	}
}

func TestRunDoneQuitsAndShowsWhy(t *testing.T) {
	var keys keyLog
	var m tea.Model = newModel("T1", &keys)
	m, cmd := m.Update(runDone{simterm.ErrReplaced})
	assert.IsType(t, tea.QuitMsg{}, cmd())
	assert.Contains(t, m.View(), "replaced")
	assert.True(t, errors.Is(m.(model).err, simterm.ErrReplaced))
}
