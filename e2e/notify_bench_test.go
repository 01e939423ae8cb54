package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/server"
)

// counter is a merchant endpoint that answers 200 at once and counts
// distinct Webhook-Ids.
type counter struct {
	URL   string
	mu    sync.Mutex
	ids   map[string]int
	posts atomic.Int64
	want  int
	all   chan struct{}
}

func newCounter(b *testing.B, want int) *counter {
	c := &counter{ids: map[string]int{}, want: want, all: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.posts.Add(1)
		c.mu.Lock()
		c.ids[r.Header.Get("Webhook-Id")]++
		if len(c.ids) == c.want && c.want > 0 {
			close(c.all)
			c.want = 0
		}
		c.mu.Unlock()
	}))
	b.Cleanup(srv.Close)
	c.URL = srv.URL + "/notify"
	return c
}

func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// insertNotifications writes n notifications, one InTx each (as n state
// changes would), from 16 goroutines; ids are prefix-0 .. prefix-(n-1).
func insertNotifications(b *testing.B, st posgate.Store, merchantID int64, user, url, prefix string, from, to int) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < to; i = int(next.Add(1) - 1) {
				now := time.Now().UTC()
				n := posgate.Notification{ID: fmt.Sprintf("%s-%d", prefix, i), MerchantID: merchantID, User: user,
					TradeID: fmt.Sprintf("trade-%d", i), NotifyURL: url, CreatedAt: now, NextAttempt: now,
					Payload: map[string]string{"trade_id": fmt.Sprintf("trade-%d", i), "state": "paid", "user": user}}
				if err := st.InTx(context.Background(), func(tx posgate.Tx) error { return tx.InsertNotification(n) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func merchantOf(b *testing.B, st posgate.Store, tid string) int64 {
	var mid int64
	err := st.InTx(context.Background(), func(tx posgate.Tx) error {
		term, err := tx.Terminal(tid)
		mid = term.MerchantID
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return mid
}

// BenchmarkNotifyDelivery measures notifications delivered per second on
// SQLite to a loopback endpoint that answers 200 at once: b.N
// notifications are written (one transaction each, as state changes
// would be) while the gateway delivers them; the clock stops when the
// endpoint has seen every Webhook-Id.
//
//	go test ./e2e -run '^$' -bench NotifyDelivery -benchtime 5000x
func BenchmarkNotifyDelivery(b *testing.B) {
	g := start(b, func(c *server.Config) { c.AllowPrivateNotify = true })
	g.addTerminal("Shop A", "TBENCHN", "")
	mid := merchantOf(b, g.G.Store, "TBENCHN")
	rcv := newCounter(b, b.N)
	b.ResetTimer()
	begin := time.Now()
	insertNotifications(b, g.G.Store, mid, "TBENCHN", rcv.URL, "bench", 0, b.N)
	inserted := time.Since(begin)
	select {
	case <-rcv.all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d", rcv.distinct(), b.N)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(b.N)/inserted.Seconds(), "inserted/s")
	b.ReportMetric(float64(rcv.posts.Load()-int64(b.N)), "duplicates")
}

// BenchmarkNotifyKill9 runs the posgate binary, writes b.N notifications
// into its database from this process (through the same store as the
// CLI's replay: the gateway finds them by its scan of due rows), kills the
// gateway with SIGKILL once a third have arrived, writes the rest while it
// is down, restarts it, and waits until every Webhook-Id has arrived.
//
//	go test ./e2e -run '^$' -bench NotifyKill9 -benchtime 3000x
func BenchmarkNotifyKill9(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "posgate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/posgate").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "posgate.db")
	env := append(os.Environ(), "POSGATE_MASTER_KEY="+masterKey, "POSGATE_ADMIN_TOKEN=bench")
	run := func(args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("terminals", "add", "--db", db, "--merchant", "Shop K", "--tid", "TKILL", "--secret", secretFor("TKILL"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--acquirer", "simulated", "--addr", addr, "--db", db, "--allow-private-notify", "--log-level", "error")
		cmd.Env = env
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		return cmd
	}
	gw := serve()
	b.Cleanup(func() { gw.Process.Kill(); gw.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the gateway did not start: %v", err)
		}
	}

	app, err := server.OpenApp(context.Background(), server.Config{DB: db, Getenv: func(k string) string {
		if k == "POSGATE_MASTER_KEY" {
			return masterKey
		}
		return ""
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	st := app.Store
	mid := merchantOf(b, st, "TKILL")
	rcv := newCounter(b, b.N)
	b.ResetTimer()
	begin := time.Now()

	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for rcv.distinct() < b.N/3 {
			time.Sleep(time.Millisecond)
		}
		gw.Process.Signal(syscall.SIGKILL)
		gw.Wait()
	}()
	insertNotifications(b, st, mid, "TKILL", rcv.URL, "kill", 0, b.N*2/3)
	<-killed
	atKill := rcv.distinct()
	insertNotifications(b, st, mid, "TKILL", rcv.URL, "kill", b.N*2/3, b.N)
	gw = serve()
	select {
	case <-rcv.all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("after restart: delivered %d of %d", rcv.distinct(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N), "created")
	b.ReportMetric(float64(rcv.distinct()), "received")
	b.ReportMetric(float64(atKill), "received_at_kill")
	b.ReportMetric(float64(rcv.posts.Load()-int64(b.N)), "duplicates")
	b.ReportMetric(time.Since(begin).Seconds(), "s_total")
}
