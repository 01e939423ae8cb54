package termlink_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
)

// benchHandler knows every TID, keeps no nonces (so the figures are the
// hub's own) and reports results on a channel.
type benchHandler struct {
	connected sync.WaitGroup
	results   chan string
}

func (*benchHandler) TerminalSecret(context.Context, string) (string, error) { return secret, nil }
func (*benchHandler) UseNonce(context.Context, string, string, time.Time) error {
	return nil
}
func (h *benchHandler) Connected(context.Context, string) { h.connected.Done() }
func (*benchHandler) Disconnected(string)                 {}
func (*benchHandler) Progress(context.Context, string, posgate.Progress) error {
	return nil
}

func (h *benchHandler) Result(_ context.Context, _ string, r posgate.Result) error {
	h.results <- r.CommandID
	return nil
}

func benchTID(i int) string { return fmt.Sprintf("T%05d", i) }

// dialTerminal authenticates as tid against the real clock.
func dialTerminal(ctx context.Context, url, tid string, waitWelcome bool) (*websocket.Conn, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}}
	if strings.HasPrefix(url, "wss:") {
		// The benchmark's own test certificate.
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	now, nonce := time.Now().Unix(), fmt.Sprintf("%08x-%s-%d", os.Getpid(), tid, time.Now().UnixNano())
	hello, err := termproto.Encode(termproto.Frame{
		Type: termproto.TypeHello, TID: tid, Time: now, Nonce: nonce, Version: termproto.Version,
		Sign: termproto.SignHello(secret, tid, now, nonce, termproto.Version),
	})
	if err == nil {
		err = c.Write(ctx, websocket.MessageText, hello)
	}
	if err == nil && waitWelcome {
		_, _, err = c.Read(ctx)
	}
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	return c, nil
}

// benchOpen lifts the connection limits: every benchmark terminal dials
// from one address, all at once.
var benchOpen = termlink.Rate{PerSecond: 1e9, Burst: 1e9}

// dialAll connects n terminals, a few at a time.
func dialAll(ctx context.Context, url string, n int, waitWelcome bool) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := dialTerminal(ctx, url, benchTID(i), waitWelcome)
			conns[i] = c
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return conns, nil
}

// BenchmarkCommandRoundTrip measures cloud Send → Handler.Result with
// 1,000 connected terminals that answer every command at once, on each
// transport. cpu-µs/command is the whole process's CPU (hub and the
// terminals' side together): an upper bound of the hub's share.
func BenchmarkCommandRoundTrip(b *testing.B) {
	for _, io := range []string{termlink.IOPoller, termlink.IOGoroutine} {
		b.Run(io, func(b *testing.B) { commandRoundTrip(b, io) })
	}
}

func commandRoundTrip(b *testing.B, io string) {
	const terminals = 1000
	h := &benchHandler{results: make(chan string, 1)}
	h.connected.Add(terminals)
	hub, err := termlink.New(termlink.Config{HeartbeatInterval: time.Hour, Hellos: benchOpen, Accepts: benchOpen, Logger: slog.New(slog.DiscardHandler), IO: io})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(hub.Endpoint(h))
	defer srv.Close()
	defer hub.Shutdown(context.Background())

	ctx := context.Background()
	conns, err := dialAll(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), terminals, true)
	require.NoError(b, err)
	h.connected.Wait()
	for _, c := range conns {
		go func() {
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				f, err := termproto.Decode(msg)
				if err != nil || f.Type != termproto.TypeCommand {
					continue
				}
				res, _ := termproto.Encode(termproto.Frame{Type: termproto.TypeResult, ID: f.ID, Outcome: termproto.OutcomeApproved})
				if c.Write(ctx, websocket.MessageText, res) != nil {
					return
				}
			}
		}()
	}

	var lat []time.Duration
	i := 0
	cpu0 := processCPU(b)
	for b.Loop() {
		id := "cmd-" + strconv.Itoa(i)
		cmd := termproto.Frame{Type: termproto.TypeCommand, ID: id, Kind: termproto.KindSale, Amount: "1.00", Currency: "EUR"}
		start := time.Now()
		if err := hub.Send(ctx, benchTID(i%terminals), cmd); err != nil {
			b.Fatal(err)
		}
		if got := <-h.results; got != id {
			b.Fatalf("result for %s, want %s", got, id)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	cpu := processCPU(b) - cpu0
	slices.Sort(lat)
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/command")
	b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
}

// processCPU is the user and system CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Environment of the idle-client helper process.
const (
	envHelperURL      = "POSGATE_IDLE_HELPER_URL"
	envHelperN        = "POSGATE_IDLE_HELPER_N"
	envHelperInterval = "POSGATE_IDLE_HELPER_INTERVAL"
	envHelperWelcome  = "POSGATE_IDLE_HELPER_WELCOME"
)

// BenchmarkIdleMemory measures the server's resident memory and CPU per
// heartbeat of idle terminals (one heartbeat a second each), for a bare
// coder/websocket server that only accepts and reads and for the hub on
// each transport, and on the poller with TLS. The terminals run in a child
// process so that their memory and CPU stay out of the figures. Run it with
//
//	POSGATE_BENCH_IDLE_TERMINALS=10000 go test -run '^$' -bench IdleMemory -benchtime 1x ./termlink/
func BenchmarkIdleMemory(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("POSGATE_BENCH_IDLE_TERMINALS"))
	if n <= 0 {
		b.Skip("set POSGATE_BENCH_IDLE_TERMINALS to the number of terminals, e.g. 10000")
	}
	const interval = time.Second

	var received atomic.Int64
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols: []string{termproto.Subprotocol}, CompressionMode: websocket.CompressionDisabled,
		})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(termproto.MaxFrameBytes)
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
			received.Add(1)
		}
	})
	// One hello and one heartbeat per terminal means a cycle went through.
	bareHeard := func(time.Time) bool { return received.Load() >= int64(2*n) }
	bareRSS, bareGo, bareBeat := idleMemory(b, bare, n, interval, false, false, bareHeard)

	b.ReportMetric(bareRSS, "bare-rss-B/terminal")
	b.ReportMetric(bareGo, "bare-go-B/terminal")
	b.ReportMetric(bareBeat, "bare-cpu-µs/heartbeat")
	for _, run := range []struct {
		io   string
		tls  bool
		name string
	}{{termlink.IOPoller, false, "poller"}, {termlink.IOGoroutine, false, "goroutine"}, {termlink.IOPoller, true, "poller-tls"}} {
		io := run.io
		h := &benchHandler{}
		h.connected.Add(n)
		hub, err := termlink.New(termlink.Config{HeartbeatInterval: interval, Hellos: benchOpen, Accepts: benchOpen, Logger: slog.New(slog.DiscardHandler), IO: io})
		require.NoError(b, err)
		hubHeard := func(ready time.Time) bool {
			for _, s := range hub.Statuses() {
				if !s.Online || s.LastSeen.Before(ready) {
					return false
				}
			}
			return true
		}
		hubRSS, hubGo, hubBeat := idleMemory(b, hub.Endpoint(h), n, interval, true, run.tls, hubHeard)
		require.NoError(b, hub.Shutdown(context.Background()))
		b.ReportMetric(hubRSS, run.name+"-rss-B/terminal")
		b.ReportMetric(hubRSS/bareRSS, run.name+"/bare")
		b.ReportMetric(hubGo, run.name+"-go-B/terminal")
		b.ReportMetric(hubBeat, run.name+"-cpu-µs/heartbeat")
	}
	b.ReportMetric(0, "ns/op")
}

// idleMemory serves handler, has a child process hold n idle terminals on
// it, and returns the growth per terminal of the process's resident set
// and of the Go heap and stacks in use, and the CPU per heartbeat, with TLS
// if withTLS. heard reports whether the server
// has processed a heartbeat sent after ready.
func idleMemory(b *testing.B, handler http.Handler, n int, interval time.Duration, welcome, withTLS bool, heard func(ready time.Time) bool) (rss, goMem, heartbeatMicros float64) {
	srv := httptest.NewUnstartedServer(handler)
	if withTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()

	rss0, go0 := memory(b)
	child := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	child.Env = append(os.Environ(),
		envHelperURL+"=ws"+strings.TrimPrefix(srv.URL, "http"),
		envHelperN+"="+strconv.Itoa(n),
		envHelperInterval+"="+interval.String(),
		envHelperWelcome+"="+strconv.FormatBool(welcome),
	)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	require.NoError(b, err)
	stdout, err := child.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, child.Start())
	defer func() {
		stdin.Close()
		require.NoError(b, child.Wait())
	}()

	lines := bufio.NewScanner(stdout)
	isReady := false
	for !isReady && lines.Scan() {
		isReady = lines.Text() == "ready"
	}
	require.True(b, isReady, "the helper process failed")
	ready := time.Now()
	for !heard(ready) {
		require.Less(b, time.Since(ready), time.Minute, "no heartbeat cycle within a minute")
		time.Sleep(interval / 10) // polling a condition, not standing in for one
	}
	rss1, go1 := memory(b)
	// The CPU of the heartbeats: a window of whole intervals, each with
	// one heartbeat per terminal (a measurement, not a wait for an event).
	const rounds = 5
	cpu0 := processCPU(b)
	time.Sleep(rounds * interval)
	cpu := processCPU(b) - cpu0
	return float64(rss1-rss0) / float64(n), float64(go1-go0) / float64(n), float64(cpu.Microseconds()) / float64(rounds*n)
}

// memory returns VmRSS and the Go heap and stacks in use, after handing
// freed pages back so that both reflect live memory only.
func memory(b *testing.B) (rss, goMem uint64) {
	runtime.GC() // each GC halves an oversized goroutine stack at most once
	runtime.GC()
	debug.FreeOSMemory()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(b, err)
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
			require.NoError(b, err)
			rss = v << 10
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return rss, ms.HeapInuse + ms.StackInuse
}

// TestIdleClientsHelper is the child process of BenchmarkIdleMemory: it
// holds idle terminals open, sending a heartbeat every interval, prints
// "ready" once all are connected and a heartbeat round went out, and exits
// when its stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv(envHelperURL)
	if url == "" {
		t.Skip("run by BenchmarkIdleMemory only")
	}
	n, err := strconv.Atoi(os.Getenv(envHelperN))
	require.NoError(t, err)
	interval, err := time.ParseDuration(os.Getenv(envHelperInterval))
	require.NoError(t, err)
	welcome, err := strconv.ParseBool(os.Getenv(envHelperWelcome))
	require.NoError(t, err)

	ctx := context.Background()
	var (
		mu    sync.Mutex
		conns []*websocket.Conn
	)
	heartbeats := func(seq int64) {
		hb, _ := termproto.Encode(termproto.Frame{Type: termproto.TypeHeartbeat, Seq: seq})
		mu.Lock()
		cs := slices.Clone(conns)
		mu.Unlock()
		for _, c := range cs {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = c.Write(wctx, websocket.MessageText, hb)
			cancel()
		}
	}
	// Heartbeats start with the first connection: a slow connect storm
	// must not let early terminals time out.
	done := make(chan struct{})
	rounds := make(chan int64, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := int64(1); ; seq++ {
			select {
			case <-done:
				return
			case <-tick.C:
				heartbeats(seq)
				select {
				case rounds <- seq:
				default:
				}
			}
		}
	}()

	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := dialTerminal(ctx, url, benchTID(i), welcome)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				for {
					if _, _, err := c.Read(ctx); err != nil {
						return
					}
				}
			}()
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "terminals failed to connect")
	// The first round completed from now on may have started before the
	// last connect; the one after it reaches every terminal.
	select {
	case <-rounds:
	default:
	}
	<-rounds
	<-rounds
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	close(done)
}
