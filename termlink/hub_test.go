package termlink_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
)

// terminalIO is the transport every hub of the tests uses; the suite runs
// on the default one, and TestOtherTransports runs it again on each of the
// others in a child process.
var terminalIO = flag.String("termlink.io", termlink.DefaultIO, "the hub's transport in the tests: "+termlink.IOAuto+", "+termlink.IOPoller+" or "+termlink.IOGoroutine)

// TestOtherTransports runs the hub's tests on the transports the suite did
// not run: all must behave the same to a terminal.
func TestOtherTransports(t *testing.T) {
	if *terminalIO != termlink.DefaultIO {
		t.Skip("this is a run on another transport")
	}
	for _, io := range []string{termlink.IOPoller, termlink.IOGoroutine} {
		t.Run(io, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-termlink.io="+io, "-test.count=1",
				"-test.run=^Test(Connect|AuthFailure|Send|TerminalFrames|Shutdown|HelloLimits|ProgressRate|DrainAndReconnect|AcceptLimit)$")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the hub's tests on %s:\n%s", io, out)
		})
	}
}

// wait bounds every blocking step of a test; it is generous because the
// machine is shared, and only a failing test ever waits that long.
const wait = 5 * time.Second

// fakeHandler keeps everything in memory and signals each call on a channel.
type fakeHandler struct {
	mu          sync.Mutex
	secrets     map[string]string
	nonces      map[string]bool
	results     map[string]posgate.Result
	failResults int // how many coming Result calls fail
	disconnects int

	connected    chan string
	disconnected chan string
	progress     chan posgate.Progress
	result       chan posgate.Result
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{
		secrets:      make(map[string]string),
		nonces:       make(map[string]bool),
		results:      make(map[string]posgate.Result),
		connected:    make(chan string, 100),
		disconnected: make(chan string, 100),
		progress:     make(chan posgate.Progress, 100),
		result:       make(chan posgate.Result, 100),
	}
}

func (f *fakeHandler) TerminalSecret(_ context.Context, tid string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[tid]
	if !ok {
		return "", posgate.ErrNotFound
	}
	return s, nil
}

func (f *fakeHandler) UseNonce(_ context.Context, tid, nonce string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nonces[tid+" "+nonce] {
		return posgate.ErrDuplicate
	}
	f.nonces[tid+" "+nonce] = true
	return nil
}

func (f *fakeHandler) Connected(_ context.Context, tid string) { f.connected <- tid }

func (f *fakeHandler) Disconnected(tid string) {
	f.mu.Lock()
	f.disconnects++
	f.mu.Unlock()
	f.disconnected <- tid
}

func (f *fakeHandler) Progress(_ context.Context, _ string, p posgate.Progress) error {
	f.progress <- p
	return nil
}

func (f *fakeHandler) Result(_ context.Context, _ string, r posgate.Result) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failResults > 0 {
		f.failResults--
		return errors.New("database unavailable")
	}
	f.results[r.CommandID] = r
	f.result <- r
	return nil
}

func (f *fakeHandler) disconnectCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disconnects
}

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type testBundle struct {
	hub   *termlink.Hub
	fake  *fakeHandler
	clock *clock
	url   string
}

const secret = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f"

func setup(t *testing.T, cfg termlink.Config) *testBundle {
	t.Helper()
	fake := newFakeHandler()
	for _, tid := range []string{"T1", "T2"} {
		fake.secrets[tid] = secret
	}
	clk := new(clock)
	clk.ns.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.IO = *terminalIO
	hub, err := termlink.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(hub.Endpoint(fake))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, hub.Shutdown(ctx))
		srv.Close()
	})
	return &testBundle{hub: hub, fake: fake, clock: clk, url: "ws" + strings.TrimPrefix(srv.URL, "http") + termproto.Path}
}

func (b *testBundle) dial(t *testing.T, subprotocols ...string) *websocket.Conn {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{termproto.Subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, b.url, &websocket.DialOptions{Subprotocols: subprotocols})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

var nonceSeq atomic.Int64

func newNonce() string { return fmt.Sprintf("nonce-%016d", nonceSeq.Add(1)) }

func (b *testBundle) hello(tid string) termproto.Frame {
	now, nonce := b.clock.Now().Unix(), newNonce()
	return termproto.Frame{
		Type: termproto.TypeHello, TID: tid, Time: now, Nonce: nonce, Version: termproto.Version,
		Sign: termproto.SignHello(secret, tid, now, nonce, termproto.Version),
	}
}

// connect authenticates tid and returns once the hub called Connected.
func (b *testBundle) connect(t *testing.T, tid string) (*websocket.Conn, termproto.Frame) {
	t.Helper()
	c := b.dial(t)
	writeFrame(t, c, b.hello(tid))
	welcome := readFrame(t, c)
	require.Equal(t, termproto.TypeWelcome, welcome.Type)
	require.Equal(t, tid, receive(t, b.fake.connected))
	return c, welcome
}

func writeFrame(t *testing.T, c *websocket.Conn, f termproto.Frame) {
	t.Helper()
	b, err := termproto.Encode(f)
	require.NoError(t, err)
	writeRaw(t, c, b)
}

func writeRaw(t *testing.T, c *websocket.Conn, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, c.Write(ctx, websocket.MessageText, b))
}

func readRaw(t *testing.T, c *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	return b
}

func readFrame(t *testing.T, c *websocket.Conn) termproto.Frame {
	t.Helper()
	f, err := termproto.Decode(readRaw(t, c))
	require.NoError(t, err)
	return f
}

// requireClosed reads the next message and requires it to be the close
// frame with code.
func requireClosed(t *testing.T, c *websocket.Conn, code websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.Error(t, err, "got a frame instead of a close: %s", b)
	require.Equal(t, code, websocket.CloseStatus(err), "read error: %v", err)
}

// closeCode reads c in the background, for peers that must answer a close
// while the test waits on the hub, and delivers the close code.
func closeCode(c *websocket.Conn) <-chan websocket.StatusCode {
	ch := make(chan websocket.StatusCode, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				ch <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	return ch
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("nothing received within %s", wait)
		panic("unreachable")
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{HeartbeatInterval: 7 * time.Second})
		require.False(t, b.hub.Online("T1"))
		require.Equal(t, termlink.Status{TID: "T1"}, b.hub.Status("T1"))

		_, welcome := b.connect(t, "T1")
		require.Equal(t, termproto.Frame{
			Type: termproto.TypeWelcome, Version: termproto.Version,
			HeartbeatMS: 7000, ServerTime: b.clock.Now().UnixMilli(),
		}, welcome)

		require.True(t, b.hub.Online("T1"))
		st := b.hub.Status("T1")
		require.True(t, st.Online)
		require.True(t, st.LastSeen.Equal(b.clock.Now()))
		require.True(t, st.ConnectedAt.Equal(b.clock.Now()))
		require.NotEmpty(t, st.RemoteAddr)
		require.Equal(t, []termlink.Status{st}, b.hub.Statuses())
	})

	t.Run("Heartbeat", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		b.clock.Advance(3 * time.Second)
		writeFrame(t, c, termproto.Frame{Type: termproto.TypeHeartbeat, Seq: 7})
		require.Equal(t, termproto.Frame{Type: termproto.TypeHeartbeatAck, Seq: 7}, readFrame(t, c))
		require.True(t, b.hub.Status("T1").LastSeen.Equal(b.clock.Now()))
	})

	t.Run("Replaced", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		old, _ := b.connect(t, "T1")
		b.clock.Advance(time.Second)
		cur, _ := b.connect(t, "T1")
		requireClosed(t, old, termproto.CloseReplaced)

		st := b.hub.Status("T1")
		require.True(t, st.Online)
		require.True(t, st.ConnectedAt.Equal(b.clock.Now()))
		cmd := termproto.Frame{Type: termproto.TypeCommand, ID: "c1", Kind: termproto.KindSale, Amount: "1.00", Currency: "EUR"}
		require.NoError(t, b.hub.Send(context.Background(), "T1", cmd))
		require.Equal(t, cmd, readFrame(t, cur))

		closed := closeCode(cur)
		// Shutdown waits for every connection's teardown, the replaced one's
		// included, so one Disconnected in all proves the old one made none.
		require.NoError(t, b.hub.Shutdown(context.Background()))
		require.Equal(t, 1, b.fake.disconnectCount())
		require.Equal(t, websocket.StatusCode(termproto.CloseShutdown), receive(t, closed))
	})

	t.Run("SilentDrop", func(t *testing.T) {
		t.Parallel()
		const interval = 50 * time.Millisecond
		b := setup(t, termlink.Config{HeartbeatInterval: interval})
		start := time.Now() // before the hub's deadline timer starts
		c, _ := b.connect(t, "T1")
		require.Equal(t, "T1", receive(t, b.fake.disconnected))
		elapsed := time.Since(start)
		require.GreaterOrEqual(t, elapsed, 2*interval)
		require.Less(t, elapsed, 10*interval)

		st := b.hub.Status("T1")
		require.False(t, st.Online)
		require.False(t, st.LastSeen.IsZero())
		requireClosed(t, c, termproto.CloseTimeout)
	})

	t.Run("OfflineSinceAndClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c := b.dial(t)
		hello := b.hello("T1")
		hello.Client = "acme-pos/4.2"
		writeFrame(t, c, hello)
		require.Equal(t, termproto.TypeWelcome, readFrame(t, c).Type)
		require.Equal(t, "T1", receive(t, b.fake.connected))
		st := b.hub.Status("T1")
		require.Equal(t, "acme-pos/4.2", st.Client)
		require.True(t, st.OfflineSince.IsZero(), "online")

		b.clock.Advance(time.Minute)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		require.Equal(t, "T1", receive(t, b.fake.disconnected))
		st = b.hub.Status("T1")
		require.True(t, st.OfflineSince.Equal(b.clock.Now()))
		require.Equal(t, "acme-pos/4.2", st.Client, "kept while offline")

		b.connect(t, "T1")
		st = b.hub.Status("T1")
		require.True(t, st.OfflineSince.IsZero(), "online again")
		require.Empty(t, st.Client, "the newest hello named no software")
	})

	t.Run("PeerCloses", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		require.Equal(t, "T1", receive(t, b.fake.disconnected))
		require.False(t, b.hub.Online("T1"))
		require.ErrorIs(t, b.hub.Send(context.Background(), "T1", termproto.Frame{Type: termproto.TypeAbort, ID: "c1"}), posgate.ErrTerminalOffline)
	})
}

func TestAuthFailure(t *testing.T) {
	t.Parallel()
	want, err := termproto.Encode(termproto.Frame{Type: termproto.TypeError, Code: "-1001", Message: "authentication failed"})
	require.NoError(t, err)

	for _, tc := range []struct {
		name         string
		subprotocols []string
		hello        func(b *testBundle) termproto.Frame
	}{
		{name: "BadSignature", hello: func(b *testBundle) termproto.Frame {
			f := b.hello("T1")
			f.Sign = termproto.SignHello("00"+secret[2:], f.TID, f.Time, f.Nonce, f.Version)
			return f
		}},
		{name: "UnknownTID", hello: func(b *testBundle) termproto.Frame { return b.hello("T9") }},
		{name: "StaleTime", hello: func(b *testBundle) termproto.Frame {
			f := b.hello("T1")
			f.Time -= 301
			f.Sign = termproto.SignHello(secret, f.TID, f.Time, f.Nonce, f.Version)
			return f
		}},
		{name: "FutureTime", hello: func(b *testBundle) termproto.Frame {
			f := b.hello("T1")
			f.Time += 301
			f.Sign = termproto.SignHello(secret, f.TID, f.Time, f.Nonce, f.Version)
			return f
		}},
		{name: "ReusedNonce", hello: func(b *testBundle) termproto.Frame {
			f := b.hello("T1")
			b.fake.mu.Lock()
			b.fake.nonces["T1 "+f.Nonce] = true
			b.fake.mu.Unlock()
			return f
		}},
		{name: "WrongVersion", hello: func(b *testBundle) termproto.Frame {
			f := b.hello("T1")
			f.Version = 2
			f.Sign = termproto.SignHello(secret, f.TID, f.Time, f.Nonce, f.Version)
			return f
		}},
		{name: "WrongSubprotocol", subprotocols: []string{"posgate.terminal.v2"}, hello: (*testBundle).helloT1},
		{name: "NoSubprotocol", subprotocols: []string{}, hello: (*testBundle).helloT1},
		{name: "NotHello", hello: func(*testBundle) termproto.Frame {
			return termproto.Frame{Type: termproto.TypeHeartbeat, Seq: 1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, termlink.Config{})
			c := b.dial(t, tc.subprotocols...)
			writeFrame(t, c, tc.hello(b))
			require.Equal(t, string(want), string(readRaw(t, c)))
			requireClosed(t, c, termproto.CloseAuthFailed)
			require.False(t, b.hub.Online("T1"))
			require.Empty(t, b.hub.Statuses())
		})
	}

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c := b.dial(t)
		writeRaw(t, c, []byte(`{"type":"hello"`))
		require.Equal(t, string(want), string(readRaw(t, c)))
		requireClosed(t, c, termproto.CloseAuthFailed)
	})

	t.Run("HelloTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{HelloTimeout: 50 * time.Millisecond})
		c := b.dial(t)
		require.Equal(t, string(want), string(readRaw(t, c)))
		requireClosed(t, c, termproto.CloseAuthFailed)
	})
}

func (b *testBundle) helloT1() termproto.Frame { return b.hello("T1") }

func TestSend(t *testing.T) {
	t.Parallel()

	t.Run("ErrTerminalOffline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		err := b.hub.Send(context.Background(), "T1", termproto.Frame{Type: termproto.TypeAbort, ID: "c1", Reason: termproto.AbortCancelled})
		require.ErrorIs(t, err, posgate.ErrTerminalOffline)
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		cmd := termproto.Frame{
			Type: termproto.TypeCommand, ID: "c1", Kind: termproto.KindSale, TradeID: "tr1", OrderID: "o1",
			Amount: "12.34", Currency: "EUR", Description: "coffee", TimeoutMS: 60000,
		}
		require.NoError(t, b.hub.Send(context.Background(), "T1", cmd))
		require.Equal(t, cmd, readFrame(t, c))
	})

	t.Run("ErrInvalidFrame", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		b.connect(t, "T1")
		require.Error(t, b.hub.Send(context.Background(), "T1", termproto.Frame{Type: termproto.TypeCommand, ID: "c1"}))
	})
}

func TestTerminalFrames(t *testing.T) {
	t.Parallel()

	t.Run("ProgressAndResult", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		progress := termproto.Frame{Type: termproto.TypeProgress, ID: "c1", Stage: termproto.StageWaitingForCard, At: 1}
		writeFrame(t, c, progress)
		require.Equal(t, posgate.Progress{CommandID: "c1", Stage: posgate.StageWaitingForCard}, receive(t, b.fake.progress))

		// A stage the protocol does not define is dropped alone: the
		// connection goes on and the next frame arrives.
		writeFrame(t, c, termproto.Frame{Type: termproto.TypeProgress, ID: "c1", Stage: "dancing"})

		result := termproto.Frame{Type: termproto.TypeResult, ID: "c1", Outcome: termproto.OutcomeApproved, TransactionID: "tx1", At: 2}
		writeFrame(t, c, result)
		require.Equal(t, posgate.Result{CommandID: "c1", Outcome: posgate.OutcomeApproved, TransactionID: "tx1"}, receive(t, b.fake.result))
		require.Equal(t, termproto.Frame{Type: termproto.TypeAck, ID: "c1"}, readFrame(t, c))
	})

	t.Run("AckOnlyAfterResultRecorded", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		b.fake.failResults = 1
		c, _ := b.connect(t, "T1")
		result := termproto.Frame{Type: termproto.TypeResult, ID: "c1", Outcome: termproto.OutcomeDeclined}
		writeFrame(t, c, result)
		f := readFrame(t, c)
		require.Equal(t, termproto.TypeError, f.Type, "no ack for an unrecorded result")
		require.Equal(t, termproto.ErrorInternal, f.Code)
		requireClosed(t, c, websocket.StatusInternalError)
		require.Equal(t, "T1", receive(t, b.fake.disconnected))

		c, _ = b.connect(t, "T1")
		writeFrame(t, c, result)
		require.Equal(t, termproto.Frame{Type: termproto.TypeAck, ID: "c1"}, readFrame(t, c))
		require.Equal(t, posgate.Result{CommandID: "c1", Outcome: posgate.OutcomeDeclined}, receive(t, b.fake.result))
	})

	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  string
	}{
		{"Malformed", websocket.MessageText, `{"type":"progress","id":"c1"}`},
		{"NotJSON", websocket.MessageText, `ack`},
		{"CommandFromTerminal", websocket.MessageText, `{"type":"command","id":"c1","kind":"sale"}`},
		{"SecondHello", websocket.MessageText, ""},
		{"Binary", websocket.MessageBinary, `{"type":"heartbeat"}`},
	} {
		t.Run("ProtocolError"+tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, termlink.Config{})
			c, _ := b.connect(t, "T1")
			msg := []byte(tc.msg)
			if tc.name == "SecondHello" {
				var err error
				msg, err = termproto.Encode(b.hello("T1"))
				require.NoError(t, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			require.NoError(t, c.Write(ctx, tc.typ, msg))
			f := readFrame(t, c)
			require.Equal(t, termproto.TypeError, f.Type)
			require.Equal(t, termproto.ErrorProtocol, f.Code)
			requireClosed(t, c, termproto.CloseProtocol)
			require.Equal(t, "T1", receive(t, b.fake.disconnected))
		})
	}

	t.Run("InvalidUTF8", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		writeRaw(t, c, []byte("{\"type\":\"heartbeat\",\"client\":\"\xff\xfe\"}"))
		f := readFrame(t, c)
		require.Equal(t, termproto.ErrorProtocol, f.Code)
		require.Contains(t, f.Message, "UTF-8")
		requireClosed(t, c, termproto.CloseInvalidData)
		require.Equal(t, "T1", receive(t, b.fake.disconnected))
	})

	t.Run("InvalidUTF8Hello", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c := b.dial(t)
		hello, err := termproto.Encode(b.hello("T1"))
		require.NoError(t, err)
		writeRaw(t, c, append(hello[:len(hello)-1], []byte(",\"client\":\"\xc0\xaf\"}")...))
		require.Equal(t, termproto.ErrorProtocol, readFrame(t, c).Code)
		requireClosed(t, c, termproto.CloseInvalidData)
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		b := setup(t, termlink.Config{})
		c, _ := b.connect(t, "T1")
		writeRaw(t, c, []byte(`{"type":"heartbeat","client":"`+strings.Repeat("x", termproto.MaxFrameBytes)+`"}`))
		requireClosed(t, c, websocket.StatusMessageTooBig)
		require.Equal(t, "T1", receive(t, b.fake.disconnected))
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t, termlink.Config{})
	c2, _ := b.connect(t, "T2")
	c1, _ := b.connect(t, "T1")
	pending := b.dial(t) // accepted, not yet authenticated

	var closed []<-chan websocket.StatusCode
	for _, c := range []*websocket.Conn{c1, c2, pending} {
		closed = append(closed, closeCode(c))
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, b.hub.Shutdown(ctx))
	for _, ch := range closed {
		require.Equal(t, websocket.StatusCode(termproto.CloseShutdown), receive(t, ch))
	}
	require.Equal(t, 2, b.fake.disconnectCount())
	require.False(t, b.hub.Online("T1"))
	require.False(t, b.hub.Online("T2"))
	var tids []string
	for _, st := range b.hub.Statuses() {
		require.False(t, st.LastSeen.IsZero())
		tids = append(tids, st.TID)
	}
	require.Equal(t, []string{"T1", "T2"}, tids)

	require.NoError(t, b.hub.Shutdown(ctx))
	_, resp, err := websocket.Dial(ctx, b.url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.Error(t, err)
	require.Equal(t, 503, resp.StatusCode)
	_, _ = io.Copy(io.Discard, resp.Body)
}

// TestHelloLimits: an address that fails to authenticate too often has
// its next connections refused with 429 and Retry-After until its bucket
// refills, while the hub keeps serving.
func TestHelloLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, termlink.Config{HelloFailures: termlink.Rate{PerSecond: 0.001, Burst: 2}})
	for range 2 {
		c, _, err := websocket.Dial(t.Context(), b.url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
		require.NoError(t, err)
		writeFrame(t, c, termproto.Frame{Type: termproto.TypeHello, TID: "T1", Time: b.clock.Now().Unix(), Nonce: "0123456789abcdef", Sign: "bad", Version: termproto.Version})
		require.Equal(t, termproto.ErrorAuthFailed, readFrame(t, c).Code)
		requireClosed(t, c, termproto.CloseAuthFailed)
	}
	_, resp, err := websocket.Dial(t.Context(), b.url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// TestProgressRate: a terminal flooding progress frames has the excess
// dropped; its result still arrives.
func TestProgressRate(t *testing.T) {
	t.Parallel()
	b := setup(t, termlink.Config{Progress: termlink.Rate{PerSecond: 0.001, Burst: 3}})
	c, _ := b.connect(t, "T1")
	for range 10 {
		writeFrame(t, c, termproto.Frame{Type: termproto.TypeProgress, ID: "c1", Stage: termproto.StageWaitingForCard})
	}
	writeFrame(t, c, termproto.Frame{Type: termproto.TypeResult, ID: "c1", Outcome: termproto.OutcomeApproved})
	require.Equal(t, posgate.Result{CommandID: "c1", Outcome: posgate.OutcomeApproved}, receive(t, b.fake.result))
	require.Len(t, b.fake.progress, 3, "the burst, then nothing")
}

// TestDrainAndReconnect: a draining hub refuses new connections with 503
// while its live terminals keep working; Reconnect then tells each to
// come back after a delay within the spread and closes it with
// CloseShutdown.
func TestDrainAndReconnect(t *testing.T) {
	t.Parallel()
	b := setup(t, termlink.Config{})
	c1, _ := b.connect(t, "T1")
	c2, _ := b.connect(t, "T2")
	b.hub.Drain()

	_, resp, err := websocket.Dial(t.Context(), b.url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	_, draining := b.hub.Refused()
	require.EqualValues(t, 1, draining)

	// Still served while draining: a command and its result.
	require.NoError(t, b.hub.Send(t.Context(), "T1", termproto.Frame{Type: termproto.TypeCommand, ID: "c1", Kind: termproto.KindSale}))
	require.Equal(t, "c1", readFrame(t, c1).ID)
	writeFrame(t, c1, termproto.Frame{Type: termproto.TypeResult, ID: "c1", Outcome: termproto.OutcomeApproved})
	require.Equal(t, "c1", receive(t, b.fake.result).CommandID)
	require.Equal(t, termproto.TypeAck, readFrame(t, c1).Type)

	const spread = 2 * time.Second
	told := make(chan int, 1)
	go func() { told <- b.hub.Reconnect(t.Context(), spread) }()
	for _, c := range []*websocket.Conn{c1, c2} {
		f := readFrame(t, c)
		require.Equal(t, termproto.TypeReconnect, f.Type)
		require.GreaterOrEqual(t, f.AfterMS, int64(0))
		require.Less(t, f.AfterMS, spread.Milliseconds())
		requireClosed(t, c, termproto.CloseShutdown)
	}
	require.Equal(t, 2, receive(t, told))
	require.False(t, b.hub.Online("T1"))
	require.False(t, b.hub.Online("T2"))
	require.Equal(t, 2, b.fake.disconnectCount())
}

// TestAcceptLimit: the node-wide bucket refuses connections beyond it
// with 503 and Retry-After, whatever their source address, and the
// connections it took are served.
func TestAcceptLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, termlink.Config{Accepts: termlink.Rate{PerSecond: 0.001, Burst: 2}})
	b.connect(t, "T1")
	b.connect(t, "T2")
	_, resp, err := websocket.Dial(t.Context(), b.url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.True(t, b.hub.Online("T1"))
	require.True(t, b.hub.Online("T2"))
	overRate, draining := b.hub.Refused()
	require.Equal(t, [2]int64{1, 0}, [2]int64{overRate, draining})
}
