package clustertest

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balancer is the merchants' load balancer in front of the nodes, as
// HAProxy in TCP mode with health checks would be: each connection goes,
// round robin, to the next node that is ready (its /readyz answers 200: a
// draining node is skipped) and accepts the connection.
type balancer struct {
	ln    net.Listener
	URL   string
	order []func() string // each returns its node's current address
	next  atomic.Uint64
	ready *http.Client

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newBalancer(t testing.TB, order ...func() string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ready: &http.Client{Timeout: time.Second}, ln: ln, URL: "http://" + ln.Addr().String(), order: order, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.relay(c) }()
	}
}

func (b *balancer) relay(c net.Conn) {
	first := int(b.next.Add(1) % uint64(len(b.order)))
	var up net.Conn
	for i := range b.order {
		addr := b.order[(first+i)%len(b.order)]()
		if !b.isReady(addr) {
			continue
		}
		d, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			up = d
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	if !b.track(c, up) {
		return
	}
	defer b.untrack(c, up)
	done := make(chan struct{})
	go func() {
		copyFrames(up, c)
		up.Close()
		c.Close()
		close(done)
	}()
	copyFrames(c, up)
	c.Close()
	up.Close()
	<-done
}

// isReady is the health check, made per connection: the tests' merchants
// make a connection per call, so a drain is seen at once.
func (b *balancer) isReady(addr string) bool {
	resp, err := b.ready.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (b *balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		delete(b.conns, c)
	}
}

func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}

// copyFrames copies through a small buffer of its own. io.Copy between two
// TCP connections would splice through a kernel pipe per direction: four
// more descriptors per connection, which a storm of thousands of
// terminals cannot afford.
func copyFrames(dst io.Writer, src io.Reader) {
	buf := make([]byte, 4<<10)
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}
