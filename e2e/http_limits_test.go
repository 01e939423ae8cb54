package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/posgate/posgate/termlink"
)

// closedWithin reads conn until the server closes it and returns how long
// that took from since. The read deadline only stops a test whose server
// never closes.
func closedWithin(t *testing.T, conn net.Conn, since time.Time) time.Duration {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, conn)
	require.NoError(t, err, "the server did not close the connection")
	return time.Since(since)
}

// slack is how late a close may come after its bound on a busy machine.
const slack = 1500 * time.Millisecond

func TestSlowAndIdleConnectionsAreClosedAtTheirBounds(t *testing.T) {
	limits := server.HTTPLimits{
		ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout:       600 * time.Millisecond,
		WriteTimeout:      300 * time.Millisecond,
		IdleTimeout:       400 * time.Millisecond,
	}
	g := start(t, func(c *server.Config) { c.HTTP = limits })
	addr := strings.TrimPrefix(g.URL, "http://")

	t.Run("header never completes", func(t *testing.T) {
		t0 := time.Now()
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "POST /Payments HTTP/1.1\r\nHost: posgate\r\n")
		require.NoError(t, err)
		d := closedWithin(t, conn, t0)
		require.GreaterOrEqual(t, d, limits.ReadHeaderTimeout)
		require.Less(t, d, limits.ReadHeaderTimeout+slack)
	})
	t.Run("body never completes", func(t *testing.T) {
		t0 := time.Now()
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "POST /Payments HTTP/1.1\r\nHost: posgate\r\nContent-Length: 100\r\n\r\n{\"user\":")
		require.NoError(t, err)
		d := closedWithin(t, conn, t0)
		require.GreaterOrEqual(t, d, limits.ReadTimeout)
		require.Less(t, d, limits.ReadTimeout+slack)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: posgate\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, resp.Close, "the server keeps the connection alive")
		// The idle clock starts when the server has written the answer,
		// a moment before it is read here.
		d := closedWithin(t, conn, time.Now())
		require.GreaterOrEqual(t, d, limits.IdleTimeout*3/4)
		require.Less(t, d, limits.IdleTimeout+slack)
	})
}

func TestConnectionCapMakesNewConnectionsWait(t *testing.T) {
	g := start(t, func(c *server.Config) { c.HTTP.MaxConns = 2 })
	addr := strings.TrimPrefix(g.URL, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		held = append(held, c)
	}
	served := queuedHealthz(t, addr, "a third connection is not served while two are open")
	held[0].Close()
	served("served once a slot frees")
}

// queuedHealthz sends GET /healthz on a new connection and checks that it
// is not answered within 300 ms; served then checks that the answer comes.
func queuedHealthz(t *testing.T, addr, why string) (served func(why string)) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err, "the kernel queues the connection")
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: posgate\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = br.ReadByte()
	var ne net.Error
	require.ErrorAs(t, err, &ne, why)
	require.True(t, ne.Timeout())
	return func(why string) {
		t.Helper()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, why)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// TestTerminalHoldsItsSlot: a terminal's WebSocket counts against the
// connection cap while it is open, on each transport (the poller takes the
// socket over from net/http and its wrapper), and gives its slot back
// when it ends.
func TestTerminalHoldsItsSlot(t *testing.T) {
	for _, io := range []string{termlink.IOPoller, termlink.IOGoroutine} {
		t.Run(io, func(t *testing.T) {
			g := start(t, func(c *server.Config) { c.HTTP.MaxConns = 1; c.TerminalIO = io })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws := g.dialTerminal(ctx)
			served := queuedHealthz(t, strings.TrimPrefix(g.URL, "http://"), "not served while the terminal holds the only slot")
			ws.CloseNow()
			served("served once the terminal left")
		})
	}
}

// TestLongWaitsOutliveHTTPTimeouts: the terminal's WebSocket and a
// reversal waiting for the terminal both last longer than every HTTP
// timeout, and neither is cut.
func TestLongWaitsOutliveHTTPTimeouts(t *testing.T) {
	const bound = 300 * time.Millisecond
	g := start(t, func(c *server.Config) {
		c.HTTP = server.HTTPLimits{ReadHeaderTimeout: bound, ReadTimeout: bound, WriteTimeout: bound, IdleTimeout: bound}
	})
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret, func(c *simterm.Config) { c.CardDelay = 4 * bound })
	connected := g.G.Hub.Status("T1").ConnectedAt
	till := g.client("T1", secret)
	sale := paidSale(t, g, till, "T1")

	start := time.Now()
	r := call(t, till, "v3.POSReversal", reversal("T1", sale.TradeID))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	require.Greater(t, time.Since(start), 3*bound, "the reversal waited past the timeouts")
	require.Equal(t, connected, g.G.Hub.Status("T1").ConnectedAt, "the terminal kept its connection")
}
