package tui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termproto"
)

// cloud is the least of the cloud side that makes a terminal run one
// command: it welcomes, sends cmd and hands back every frame.
func cloud(t *testing.T, cmd termproto.Frame) (string, <-chan termproto.Frame) {
	t.Helper()
	frames := make(chan termproto.Frame, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{termproto.Subprotocol}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		write := func(f termproto.Frame) {
			b, _ := termproto.Encode(f)
			c.Write(ctx, websocket.MessageText, b)
		}
		if _, _, err := c.Read(ctx); err != nil { // the hello
			return
		}
		write(termproto.Frame{Type: termproto.TypeWelcome, HeartbeatMS: 60000, ServerTime: time.Now().UnixMilli()})
		write(cmd)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			f, err := termproto.Decode(b)
			if err != nil {
				return
			}
			frames <- f
			if f.Type == termproto.TypeResult {
				write(termproto.Frame{Type: termproto.TypeAck, ID: f.ID})
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, frames
}

// The display on a real engine: an authorisation (v3.POS operation=2)
// shown as one, the card presented with the key the screen names, the
// authorised amount on the result.
func TestAuthorisationOnTheEngine(t *testing.T) {
	url, frames := cloud(t, termproto.Frame{Type: termproto.TypeCommand, ID: "a1", Kind: termproto.KindAuthorisation,
		TradeID: "trade-a1", OrderID: "1", Amount: "80.00", Currency: "EUR", Description: "Hotel deposit", TimeoutMS: 60000})
	term, err := simterm.New(simterm.Config{Server: url, TID: "T125119061", Secret: "0f1e2d3c4b5a6978"})
	require.NoError(t, err)
	screens, unsubscribe := term.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- term.Run(ctx) }()
	defer func() { cancel(); <-done }()

	m, _ := testModel(term, 0)
	var tm tea.Model = m
	// until feeds the engine's screens to the model, as Run's forwarder
	// does, up to the named one.
	until := func(name string) {
		t.Helper()
		for {
			select {
			case s := <-screens:
				tm, _ = tm.Update(s)
				if s.Name == name {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s screen; at %+v", name, term.Current())
			}
		}
	}
	until(simterm.ScreenAmount)
	v := tm.View()
	assert.Contains(t, v, "AUTHORISATION")
	assert.Contains(t, v, "Hotel deposit")
	assert.Contains(t, v, "enter/t/space present card")

	tm, _ = tm.Update(tea.KeyMsg{Type: tea.KeyEnter})
	until(simterm.ScreenApproved)
	v = tm.View()
	assert.Contains(t, v, "AUTHORISED")
	assert.Contains(t, v, "Authorised amount EUR 80.00")
	assert.Contains(t, v, "● amount › ● card › ● authorise › ◉ authorised")

	for {
		select {
		case f := <-frames:
			if f.Type == termproto.TypeResult {
				assert.Equal(t, "a1", f.ID)
				assert.Equal(t, termproto.OutcomeApproved, f.Outcome)
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no result reached the cloud")
		}
	}
}
