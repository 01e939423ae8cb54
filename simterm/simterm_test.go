package simterm

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/termproto"
)

const (
	testTID    = "T125119061"
	testSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	wait       = 5 * time.Second
)

// fakeCloud is the cloud side of the terminal link, just enough to drive a
// terminal: it checks hellos, welcomes, answers heartbeats, acks results
// and hands every connection to the test.
type fakeCloud struct {
	srv         *httptest.Server
	secret      string
	heartbeatMS int64
	noAcks      bool // neither heartbeat_ack nor ack: a cloud gone quiet
	conns       chan *cloudConn
	hellos      chan termproto.Frame // every hello, good or bad
}

type cloudConn struct {
	c      *websocket.Conn
	frames chan termproto.Frame // everything after the hello
	done   chan struct{}        // closed when the connection ends
}

func newCloud(t *testing.T) *fakeCloud {
	fc := &fakeCloud{secret: testSecret, heartbeatMS: 1000, conns: make(chan *cloudConn, 16), hellos: make(chan termproto.Frame, 64)}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

func (fc *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != termproto.Path {
		http.NotFound(w, r)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{termproto.Subprotocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := context.Background()
	if c.Subprotocol() != termproto.Subprotocol {
		c.Close(websocket.StatusPolicyViolation, "subprotocol")
		return
	}
	hello, err := readFrame(ctx, c)
	if err != nil {
		return
	}
	fc.hellos <- hello
	ok := hello.Type == termproto.TypeHello && hello.TID == testTID && hello.Version == termproto.Version &&
		protocol.Verify(fc.secret, termproto.HelloStringToSign(hello.TID, hello.Time, hello.Nonce, hello.Version), hello.Sign)
	if !ok {
		writeFrame(ctx, c, termproto.Frame{Type: termproto.TypeError, Code: "auth_failed", Message: "bad signature"})
		c.Close(termproto.CloseAuthFailed, "auth failed")
		return
	}
	writeFrame(ctx, c, termproto.Frame{Type: termproto.TypeWelcome, HeartbeatMS: fc.heartbeatMS, ServerTime: time.Now().UnixMilli()})
	cc := &cloudConn{c: c, frames: make(chan termproto.Frame, 256), done: make(chan struct{})}
	defer close(cc.done)
	fc.conns <- cc
	for {
		f, err := readFrame(ctx, c)
		if err != nil {
			return
		}
		cc.frames <- f
		switch {
		case fc.noAcks:
		case f.Type == termproto.TypeHeartbeat:
			writeFrame(ctx, c, termproto.Frame{Type: termproto.TypeHeartbeatAck, Seq: f.Seq})
		case f.Type == termproto.TypeResult:
			writeFrame(ctx, c, termproto.Frame{Type: termproto.TypeAck, ID: f.ID})
		}
	}
}

func readFrame(ctx context.Context, c *websocket.Conn) (termproto.Frame, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return termproto.Frame{}, err
	}
	return termproto.Decode(b)
}

func writeFrame(ctx context.Context, c *websocket.Conn, f termproto.Frame) {
	b, _ := termproto.Encode(f)
	c.Write(ctx, websocket.MessageText, b)
}

func (fc *fakeCloud) next(t *testing.T) *cloudConn {
	t.Helper()
	select {
	case cc := <-fc.conns:
		return cc
	case <-time.After(wait):
		t.Fatal("terminal did not connect")
		return nil
	}
}

func (cc *cloudConn) send(t *testing.T, f termproto.Frame) {
	t.Helper()
	b, err := termproto.Encode(f)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, cc.c.Write(ctx, websocket.MessageText, b))
}

// until returns the first frame for which match is true, skipping others.
func (cc *cloudConn) until(t *testing.T, match func(termproto.Frame) bool) termproto.Frame {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case f := <-cc.frames:
			if match(f) {
				return f
			}
		case <-timeout:
			t.Fatal("timed out waiting for a frame")
		}
	}
}

func (cc *cloudConn) result(t *testing.T, id string) termproto.Frame {
	t.Helper()
	return cc.until(t, func(f termproto.Frame) bool { return f.Type == termproto.TypeResult && f.ID == id })
}

// stages collects the progress stages of id up to and including its result.
func (cc *cloudConn) stages(t *testing.T, id string) ([]string, termproto.Frame) {
	t.Helper()
	var stages []string
	for {
		f := cc.until(t, func(f termproto.Frame) bool { return f.ID == id })
		if f.Type == termproto.TypeResult {
			return stages, f
		}
		stages = append(stages, f.Stage)
	}
}

func (cc *cloudConn) closed(t *testing.T) {
	t.Helper()
	select {
	case <-cc.done:
	case <-time.After(wait):
		t.Fatal("connection was not closed")
	}
}

type running struct {
	*Terminal
	screens <-chan Screen
	done    chan error
	stop    context.CancelFunc // switches the terminal off; Run returns
}

func start(t *testing.T, fc *fakeCloud, cfg Config) *running {
	t.Helper()
	if cfg.Server == "" {
		cfg.Server = fc.srv.URL
	}
	cfg.TID = testTID
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	cfg.CardDelay = time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	term, err := New(cfg)
	require.NoError(t, err)
	screens, unsubscribe := term.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Terminal: term, screens: screens, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- term.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
		unsubscribe()
	})
	return r
}

// screen waits for the named screen and returns it.
func (r *running) screen(t *testing.T, name string) Screen {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case s := <-r.screens:
			if s.Name == name {
				return s
			}
		case <-timeout:
			t.Fatalf("timed out waiting for screen %s; current %+v", name, r.Current())
		}
	}
}

func (r *running) exit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return")
		return nil
	}
}

func sale(id, amount string) termproto.Frame {
	return termproto.Frame{Type: termproto.TypeCommand, ID: id, Kind: termproto.KindSale, TradeID: "trade-" + id,
		OrderID: "order-" + id, Amount: amount, Currency: "EUR", Description: "Coffee", TimeoutMS: 10000}
}

func reversal(id, amount string) termproto.Frame {
	f := sale(id, amount)
	f.Kind = termproto.KindReversal
	return f
}

var paymentStages = []string{
	termproto.StageReceived, termproto.StageOnScreen, termproto.StageWaitingForCard,
	termproto.StageCardRead, termproto.StageAuthorising,
}

func TestHelloAndHeartbeat(t *testing.T) {
	fc := newCloud(t)
	fc.heartbeatMS = 20
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	hello := <-fc.hellos
	assert.Equal(t, clientName, hello.Client)
	assert.Len(t, hello.Nonce, 32)
	assert.Equal(t, termproto.Version, hello.Version)
	r.screen(t, ScreenIdle)
	assert.True(t, r.Current().Online)
	for seq := int64(1); seq <= 2; seq++ {
		f := cc.until(t, func(f termproto.Frame) bool { return f.Type == termproto.TypeHeartbeat })
		assert.Equal(t, seq, f.Seq)
	}
}

func TestSaleApproved(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	stages, res := cc.stages(t, "c1")
	assert.Equal(t, append(paymentStages, termproto.StageApproved), stages)
	assert.Equal(t, termproto.OutcomeApproved, res.Outcome)
	assert.Regexp(t, regexp.MustCompile(`^SIM\d{20}$`), res.TransactionID)
	// 1250 minor units: 1250 mod 3 = 2, the swiped American Express card.
	assert.Equal(t, "American Express", res.CardBrand)
	assert.Equal(t, "378282*****0005", res.CardMaskedPAN)
	assert.Equal(t, termproto.EntrySwipe, res.CardEntryMode)
	assert.Regexp(t, regexp.MustCompile(`^\d{6}$`), res.CardAuthCode)
	assert.Empty(t, res.CardAID)
	for _, name := range []string{ScreenAmount, ScreenCardRead, ScreenAuthorising} {
		s := r.screen(t, name)
		assert.Equal(t, "12.50", s.Amount)
		assert.Equal(t, "trade-c1", s.TradeID)
	}
	s := r.screen(t, ScreenApproved)
	assert.Contains(t, s.Lines, "EUR 12.50")
	assert.Contains(t, s.Lines, "APPROVED")
	assert.Contains(t, s.Lines, "American Express 378282*****0005")
	assert.Equal(t, res.CardAuthCode, s.Receipt.AuthCode)
	assert.Equal(t, 1, r.Executed(termproto.KindSale))
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		e, _ := r.journal.get("c1")
		return e.Acked
	}, wait, time.Millisecond, "ack recorded")
}

func TestSaleDeclinedByMagicAmount(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.send(t, sale("c1", "1.05"))
	stages, res := cc.stages(t, "c1")
	assert.Equal(t, append(paymentStages, termproto.StageDeclined), stages)
	assert.Equal(t, termproto.OutcomeDeclined, res.Outcome)
	assert.Empty(t, res.TransactionID)
	assert.Empty(t, res.CardMaskedPAN, "a decline carries no receipt")
	r.screen(t, ScreenDeclined)

	cc.send(t, sale("c2", "1.06"))
	assert.Equal(t, termproto.OutcomeFailed, cc.result(t, "c2").Outcome)
	r.screen(t, ScreenFailed)
	assert.Equal(t, 2, r.Executed(termproto.KindSale))
}

func TestAbortWhileWaitingForCard(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cmd := sale("c1", "1.07")
	cc.send(t, cmd)
	cc.until(t, func(f termproto.Frame) bool { return f.Stage == termproto.StageWaitingForCard })
	// A re-send of the running command is ignored; another command is refused.
	cc.send(t, cmd)
	cc.send(t, sale("c2", "3.00"))
	busy := cc.result(t, "c2")
	assert.Equal(t, termproto.OutcomeFailed, busy.Outcome)
	assert.Equal(t, "terminal busy", busy.Message)

	cc.send(t, termproto.Frame{Type: termproto.TypeAbort, ID: "c1", Reason: termproto.AbortCancelled})
	stages, res := cc.stages(t, "c1")
	assert.Equal(t, []string{termproto.StageCancelled}, stages)
	assert.Equal(t, termproto.OutcomeCancelled, res.Outcome)
	r.screen(t, ScreenCancelled)
	assert.Equal(t, 0, r.Executed(termproto.KindSale))
}

func TestTimeoutAndOperatorKeys(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{})
	cc := fc.next(t)
	cmd := sale("c1", "5.00")
	cmd.TimeoutMS = 30
	cc.send(t, cmd)
	assert.Equal(t, termproto.OutcomeExpired, cc.result(t, "c1").Outcome)
	r.screen(t, ScreenExpired)

	cc.send(t, sale("c2", "5.00"))
	r.screen(t, ScreenAmount)
	r.Decline()
	assert.Equal(t, termproto.OutcomeDeclined, cc.result(t, "c2").Outcome)

	cc.send(t, sale("c3", "5.00"))
	r.screen(t, ScreenAmount)
	r.Cancel()
	assert.Equal(t, termproto.OutcomeCancelled, cc.result(t, "c3").Outcome)

	cc.send(t, sale("c4", "5.00"))
	r.screen(t, ScreenAmount)
	r.Tap()
	assert.Equal(t, termproto.OutcomeApproved, cc.result(t, "c4").Outcome)
	assert.Equal(t, 2, r.Executed(termproto.KindSale))
}

func TestReversal(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.send(t, reversal("r1", "12.50"))
	stages, res := cc.stages(t, "r1")
	assert.Equal(t, []string{termproto.StageReceived, termproto.StageReversalRequested, termproto.StageProcessing, termproto.StageApproved}, stages)
	assert.Equal(t, termproto.OutcomeApproved, res.Outcome)
	r.screen(t, ScreenReversalRequested)
	r.screen(t, ScreenReversalProcessing)
	r.screen(t, ScreenReversalApproved)

	cc.send(t, reversal("r2", "1.09"))
	assert.Equal(t, termproto.OutcomeDeclined, cc.result(t, "r2").Outcome)
	r.screen(t, ScreenReversalDeclined)

	cc.send(t, reversal("r3", "1.10"))
	assert.Equal(t, termproto.OutcomeFailed, cc.result(t, "r3").Outcome)
	assert.Equal(t, 3, r.Executed(termproto.KindReversal))
}

func TestResentCommandNotExecutedTwice(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	first := cc.result(t, "c1")
	cc.send(t, sale("c1", "12.50"))
	again := cc.result(t, "c1")
	assert.Equal(t, first, again)
	assert.Equal(t, 1, r.Executed(termproto.KindSale))
}

func TestDropAfterReceive(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true, Faults: Faults{DropAfterReceive: true}})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	cc.closed(t)
	assert.Equal(t, Faults{}, r.Faults(), "one-shot fault cleared")

	cc2 := fc.next(t)
	cc2.send(t, sale("c1", "12.50"))
	stages, res := cc2.stages(t, "c1")
	assert.Equal(t, append(paymentStages, termproto.StageApproved), stages)
	assert.Equal(t, termproto.OutcomeApproved, res.Outcome)
	assert.Equal(t, 1, r.Executed(termproto.KindSale))
	for len(cc.frames) > 0 {
		assert.NotEqual(t, "c1", (<-cc.frames).ID, "nothing of c1 on the dropped connection")
	}
}

// acquirerLog counts the simulated acquirer's operations per command id.
// It outlives the terminals, as the acquirer outlives a crashed terminal,
// so a second authorisation after a restart shows.
type acquirerLog struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *acquirerLog) hook(c termproto.Frame) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[c.ID]++
}

func (a *acquirerLog) of(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[id]
}

func authorisation(id, amount string) termproto.Frame {
	f := sale(id, amount)
	f.Kind = termproto.KindAuthorisation
	return f
}

func TestCrashBeforeResult(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	fc := newCloud(t)
	var acq acquirerLog
	r := start(t, fc, Config{AutoTap: true, JournalPath: journal, Faults: Faults{CrashBeforeResult: true}, OnAcquirer: acq.hook})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	require.ErrorIs(t, r.exit(t), ErrCrashed)
	cc.closed(t)
	for len(cc.frames) > 0 {
		assert.NotEqual(t, termproto.TypeResult, (<-cc.frames).Type, "no result before the crash")
	}
	assert.Equal(t, 1, r.Executed(termproto.KindSale))

	r2 := start(t, fc, Config{AutoTap: true, JournalPath: journal, OnAcquirer: acq.hook})
	cc2 := fc.next(t)
	res := cc2.until(t, func(termproto.Frame) bool { return true })
	assert.Equal(t, termproto.TypeResult, res.Type, "the journaled result is the first frame")
	assert.Equal(t, "c1", res.ID)
	assert.Equal(t, termproto.OutcomeApproved, res.Outcome)
	assert.Regexp(t, regexp.MustCompile(`^SIM\d{20}$`), res.TransactionID)
	cc2.send(t, sale("c1", "12.50"))
	assert.Equal(t, res, cc2.result(t, "c1"))
	assert.Equal(t, 0, r2.Executed(termproto.KindSale))
	assert.Equal(t, 1, acq.of("c1"), "one authorisation in all")
}

func TestCrashBeforeAcquirerAnswerIsInterrupted(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	fc := newCloud(t)
	var acq acquirerLog
	r := start(t, fc, Config{AutoTap: true, JournalPath: journal, Faults: Faults{CrashBeforeAnswer: true}, OnAcquirer: acq.hook})
	cc := fc.next(t)
	cc.send(t, authorisation("c1", "12.50"))
	require.ErrorIs(t, r.exit(t), ErrCrashed)
	cc.closed(t)
	for len(cc.frames) > 0 {
		assert.NotEqual(t, termproto.TypeResult, (<-cc.frames).Type, "no result before the crash")
	}
	require.Equal(t, 1, acq.of("c1"), "the acquirer got the authorisation")

	r2 := start(t, fc, Config{AutoTap: true, JournalPath: journal, OnAcquirer: acq.hook})
	cc2 := fc.next(t)
	res := cc2.until(t, func(termproto.Frame) bool { return true })
	assert.Equal(t, termproto.TypeResult, res.Type, "the interrupted result is the first frame")
	assert.Equal(t, "c1", res.ID)
	assert.Equal(t, termproto.OutcomeInterrupted, res.Outcome)
	assert.Empty(t, res.TransactionID)
	assert.Equal(t, "Interrupted before the acquirer answered", res.Message)
	// The cloud re-sends its command in flight after every reconnect, here
	// after the ack of the interrupted result.
	cc2.send(t, authorisation("c1", "12.50"))
	assert.Equal(t, res, cc2.result(t, "c1"))
	assert.Equal(t, 0, r2.Executed(termproto.KindAuthorisation))
	assert.Equal(t, 1, acq.of("c1"), "never a second authorisation")
}

func TestStoppedBeforeCardReadIsInterrupted(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	fc := newCloud(t)
	var acq acquirerLog
	r := start(t, fc, Config{JournalPath: journal, OnAcquirer: acq.hook})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	r.screen(t, ScreenAmount)
	data, err := os.ReadFile(journal)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"id":"c1"`, "journaled before the card is read")
	assert.Contains(t, string(data), `"phase":"received"`)
	r.stop()
	require.NoError(t, r.exit(t))

	r2 := start(t, fc, Config{AutoTap: true, JournalPath: journal, OnAcquirer: acq.hook})
	cc2 := fc.next(t)
	res := cc2.result(t, "c1")
	assert.Equal(t, termproto.OutcomeInterrupted, res.Outcome)
	assert.Equal(t, "Interrupted before the card was read", res.Message)
	cc2.send(t, sale("c1", "12.50"))
	assert.Equal(t, res, cc2.result(t, "c1"))
	assert.Equal(t, 0, r2.Executed(termproto.KindSale))
	assert.Equal(t, 0, acq.of("c1"))
}

func TestAbortOfFinishedCommandResendsResult(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.send(t, sale("c1", "12.50"))
	res := cc.result(t, "c1")
	cc.send(t, termproto.Frame{Type: termproto.TypeAbort, ID: "c1", Reason: termproto.AbortCancelled})
	assert.Equal(t, res, cc.result(t, "c1"), "the abort changes nothing; the result is sent again")

	// Frames are handled in order, so anything the abort of an unknown id
	// caused would come before the next command's frames.
	cc.send(t, termproto.Frame{Type: termproto.TypeAbort, ID: "nope", Reason: termproto.AbortCancelled})
	cc.send(t, sale("c2", "12.50"))
	f := cc.until(t, func(f termproto.Frame) bool { return f.Type != termproto.TypeHeartbeat })
	assert.Equal(t, "c2", f.ID, "an abort of an unknown id is ignored")
	assert.Equal(t, termproto.OutcomeApproved, cc.result(t, "c2").Outcome)
	assert.Equal(t, 2, r.Executed(termproto.KindSale))
}

func TestReplaced(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.c.Close(termproto.CloseReplaced, "replaced")
	require.ErrorIs(t, r.exit(t), ErrReplaced)
	assert.Equal(t, ScreenOffline, r.Current().Name)
}

func TestBadSecretRetriesWithBackoff(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{Secret: "bad"})
	for range 2 {
		select {
		case <-fc.hellos:
		case <-time.After(wait):
			t.Fatal("no retry")
		}
	}
	s := r.screen(t, ScreenOffline)
	for s.Message == "" {
		s = r.screen(t, ScreenOffline)
	}
	assert.Contains(t, s.Message, "authentication failed")
}

func TestSilentCloudIsDetected(t *testing.T) {
	fc := newCloud(t)
	fc.heartbeatMS = 20
	fc.noAcks = true
	start(t, fc, Config{})
	fc.next(t).closed(t)
	fc.next(t)
}

func TestSilentFault(t *testing.T) {
	fc := newCloud(t)
	fc.heartbeatMS = 10
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	cc.until(t, func(f termproto.Frame) bool { return f.Type == termproto.TypeHeartbeat })
	r.SetFaults(Faults{Silent: true})
	cc.send(t, sale("c1", "12.50"))
	// What the cloud sees of a silent terminal: at most a heartbeat that was
	// already on its way, then nothing.
	quiet := time.After(10 * time.Duration(fc.heartbeatMS) * time.Millisecond)
	heartbeats := 0
	for done := false; !done; {
		select {
		case f := <-cc.frames:
			require.Equal(t, termproto.TypeHeartbeat, f.Type)
			heartbeats++
		case <-quiet:
			done = true
		}
	}
	assert.LessOrEqual(t, heartbeats, 1)
	cc.c.CloseNow()
	cc.closed(t)
	r.SetFaults(Faults{})
	fc.next(t)
	assert.Equal(t, 0, r.Executed(termproto.KindSale), "the command sent into the silence was lost")
}

func TestJournalTruncatedLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	good := `{"id":"c1","kind":"sale","amount":"1.00","currency":"EUR","outcome":"approved","transaction_id":"SIM1","at":1,"acked":false}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(good+`{"id":"c2","kind":"sa`), 0o600))
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true, JournalPath: path})
	cc := fc.next(t)
	assert.Equal(t, "SIM1", cc.result(t, "c1").TransactionID)
	cc.send(t, sale("c2", "2.00"))
	assert.Equal(t, termproto.OutcomeApproved, cc.result(t, "c2").Outcome)
	assert.Equal(t, 1, r.Executed(termproto.KindSale))

	j, err := openJournal(path, r.log)
	require.NoError(t, err)
	e, ok := j.get("c2")
	require.True(t, ok, "an append after the cut is a whole line")
	assert.Equal(t, "2.00", e.Amount)
}

func TestJournalCorruptMiddleLineFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("garbage\n"+`{"id":"c1","kind":"sale","outcome":"approved","at":1}`+"\n"), 0o600))
	_, err := New(Config{Server: "http://x", TID: testTID, Secret: testSecret, JournalPath: path})
	assert.Error(t, err)
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":  "ws://127.0.0.1:8080" + termproto.Path,
		"https://pay.example/":   "wss://pay.example" + termproto.Path,
		"https://pay.example/gw": "wss://pay.example/gw" + termproto.Path,
		"ws://h":                 "ws://h" + termproto.Path,
	} {
		got, err := endpoint(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := endpoint("ftp://h")
	require.Error(t, err)
	_, err = New(Config{TID: "T1", Secret: "s", Server: "http://a:1,ftp://b"})
	assert.Error(t, err)
}

func TestBackoff(t *testing.T) {
	for attempt := range 20 {
		d := backoff(attempt)
		assert.GreaterOrEqual(t, d, minBackoff/2)
		assert.LessOrEqual(t, d, maxBackoff)
	}
}

func TestJournalUnavailableRefusesCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	require.NoError(t, os.Mkdir(dir, 0o700))
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true, JournalPath: filepath.Join(dir, "journal.jsonl")})
	cc := fc.next(t)
	require.NoError(t, os.Remove(dir))
	cc.send(t, sale("c1", "12.50"))
	res := cc.result(t, "c1")
	assert.Equal(t, termproto.OutcomeFailed, res.Outcome)
	assert.Equal(t, "journal unavailable", res.Message)
	cc.send(t, sale("c1", "12.50"))
	assert.Equal(t, res, cc.result(t, "c1"), "the same answer again, not a run")
	assert.Equal(t, 0, r.Executed(termproto.KindSale))
}

// TestReconnectFrameMovesToNextServer: told to reconnect, the terminal
// waits the frame's delay, dials the next gateway of its list, and
// reports there the result the first never acked (its journal), without
// running the command again.
func TestReconnectFrameMovesToNextServer(t *testing.T) {
	fc1, fc2 := newCloud(t), newCloud(t)
	fc1.noAcks = true
	var acq acquirerLog
	r := start(t, fc1, Config{Server: fc1.srv.URL + "," + fc2.srv.URL, AutoTap: true,
		JournalPath: filepath.Join(t.TempDir(), "journal.jsonl"), OnAcquirer: acq.hook})
	cc1 := fc1.next(t)
	cc1.send(t, sale("c1", "12.50"))
	res := cc1.result(t, "c1")

	const after = 300 * time.Millisecond
	told := time.Now()
	cc1.send(t, termproto.Frame{Type: termproto.TypeReconnect, AfterMS: after.Milliseconds()})
	cc1.closed(t)
	cc2 := fc2.next(t)
	assert.GreaterOrEqual(t, time.Since(told), after, "the frame's delay is honoured")
	first := cc2.until(t, func(termproto.Frame) bool { return true })
	assert.Equal(t, res, first, "the unacked result is re-sent first, on the other gateway")
	assert.Equal(t, 1, acq.of("c1"))
	assert.Equal(t, 1, r.Executed(termproto.KindSale))
}

// TestNextServerAfterFailure: a gateway of the list that does not answer
// is skipped for the next one.
func TestNextServerAfterFailure(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	fc := newCloud(t)
	start(t, fc, Config{Server: dead.URL + ", " + fc.srv.URL, AutoTap: true})
	fc.next(t)
}

// TestRetryAfterHonoured: a gateway that refuses the upgrade with 503 and
// Retry-After is not dialled again before that, when it is the only one.
func TestRetryAfterHonoured(t *testing.T) {
	fc := newCloud(t)
	var mu sync.Mutex
	var refusedAt time.Time
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := refusedAt.IsZero()
		if first {
			refusedAt = time.Now()
		}
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fc.serve(w, r)
	}))
	t.Cleanup(front.Close)
	start(t, fc, Config{Server: front.URL, AutoTap: true})
	fc.next(t)
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, time.Since(refusedAt), time.Second)
}
