package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
)

// BenchmarkReconnectStorm: stormSize terminals dial one node at once, as
// the terminals of a dead node do, with the accept limits out of the way.
// It reports the connections a second the node took through the whole
// accept path: upgrade, hello verified, nonce stored, welcome, presence
// row written in PostgreSQL. The terminals are bare WebSocket clients in
// the same process, so the figure is for a node sharing its cores with
// them. Use it to size --rate-accept.
//
//	go test ./cluster -run '^$' -bench ReconnectStorm -benchtime 3x
func BenchmarkReconnectStorm(b *testing.B) {
	const stormSize = 500
	dsn := schemaDSN(b)
	ns := natsServer(b, -1)
	open := termlink.Rate{PerSecond: 1e6, Burst: 1e6}
	n := startNodeWith(b, dsn, ns.ClientURL(), "a", func(c *server.Config) {
		c.Link = server.LinkLimits{Hellos: open, HelloFailures: open, Accepts: open}
	})
	secrets := make([]string, stormSize)
	for i := range secrets {
		secrets[i] = n.addTerminal("Shop", fmt.Sprintf("S%04d", i))
	}
	pool := n.G.Store.(interface{ Pool() *pgxpool.Pool }).Pool()
	present := func() int {
		var c int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM terminal_presence WHERE node_id = 'a'`).Scan(&c); err != nil {
			b.Fatal(err)
		}
		return c
	}
	url := "ws" + strings.TrimPrefix(n.URL, "http") + termproto.Path
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		conns := make([]*websocket.Conn, stormSize)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() {
				c, err := hello(url, fmt.Sprintf("S%04d", i), secrets[i])
				if err != nil {
					b.Error(err)
					return
				}
				conns[i] = c
			})
		}
		wg.Wait()
		for present() < stormSize {
			time.Sleep(5 * time.Millisecond)
		}
		total += time.Since(began)
		b.StopTimer()
		for _, c := range conns {
			if c != nil {
				c.Close(websocket.StatusNormalClosure, "")
			}
		}
		for present() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(stormSize*b.N)/total.Seconds(), "accepts/s")
}

// hello opens a terminal connection and waits for its welcome.
func hello(url, tid, secret string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	nonce := fmt.Sprintf("%s-%032d", tid, time.Now().UnixNano())
	f := termproto.Frame{Type: termproto.TypeHello, TID: tid, Time: now, Nonce: nonce, Version: termproto.Version,
		Sign: termproto.SignHello(secret, tid, now, nonce, termproto.Version)}
	raw, err := termproto.Encode(f)
	if err != nil {
		return nil, err
	}
	if err := c.Write(ctx, websocket.MessageText, raw); err != nil {
		return nil, err
	}
	_, raw, err = c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if w, err := termproto.Decode(raw); err != nil || w.Type != termproto.TypeWelcome {
		return nil, fmt.Errorf("%s: no welcome: %s", tid, raw)
	}
	// Keep reading so the close handshake and heartbeat acks are served.
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return c, nil
}
