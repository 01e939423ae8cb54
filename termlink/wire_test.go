package termlink

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/termproto"
)

// TestAutoSplitsConnections: IOAuto serves the first GoroutineConns
// connections with a goroutine each, the next with the poller, and gives a
// goroutine slot back when its connection ends.
func TestAutoSplitsConnections(t *testing.T) {
	h, err := New(Config{IO: IOAuto, GoroutineConns: 1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(h.Endpoint(nil))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, h.Shutdown(ctx))
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + termproto.Path
	dial := func() *websocket.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
		require.NoError(t, err)
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	// kinds counts the accepted connections by their transport, once
	// there are n.
	kinds := func(n int) (goroutine, poller int) {
		t.Helper()
		require.Eventually(t, func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return len(h.all) == n
		}, 5*time.Second, 5*time.Millisecond)
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.all {
			switch c.w.(type) {
			case coderWire:
				goroutine++
			case *pollerWire:
				poller++
			}
		}
		return goroutine, poller
	}

	first := dial()
	g, p := kinds(1)
	require.Equal(t, [2]int{1, 0}, [2]int{g, p}, "the first connection gets a goroutine")
	dial()
	g, p = kinds(2)
	require.Equal(t, [2]int{1, 1}, [2]int{g, p}, "the second goes to the poller")

	first.CloseNow()
	kinds(1)
	dial()
	g, p = kinds(2)
	require.Equal(t, [2]int{1, 1}, [2]int{g, p}, "the slot of the first came back")
}
