package termlink_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
)

// FuzzHello sends an outsider's first frame to a real hub: whatever it is,
// the connection ends with a close code of the protocol's (or the
// WebSocket's own for a frame it cannot carry), and no terminal comes
// online. Well-formed hellos with wrong signatures are among the seeds.
func FuzzHello(f *testing.F) {
	fake := newFakeHandler()
	fake.secrets["T1"] = secret
	unlimited := termlink.Rate{PerSecond: 1e9, Burst: 1e9}
	hub, err := termlink.New(termlink.Config{HelloTimeout: 2 * time.Second, Hellos: unlimited, HelloFailures: unlimited, Accepts: unlimited, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(hub.Endpoint(fake))
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + termproto.Path
	f.Add([]byte(`{"type":"hello","tid":"T1","time":1767225600,"nonce":"4f1c2a9e8b7d6c5a","sign":"ab","version":1}`))
	f.Add([]byte(`{"type":"hello","tid":"T2","time":0,"nonce":"","sign":"","version":2}`))
	f.Add([]byte(`{"type":"heartbeat","seq":1}`))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(`{"type":"hello","tid":"T1","tid":"T2"}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
			return // the hub closed first: a frame too large
		}
		for {
			if _, _, err := c.Read(ctx); err != nil {
				switch code := websocket.CloseStatus(err); code {
				case termproto.CloseAuthFailed, termproto.CloseProtocol, termproto.CloseInvalidData,
					websocket.StatusMessageTooBig:
				default:
					t.Fatalf("frame %q: the connection ended with %v (close %d)", frame, err, code)
				}
				break
			}
		}
		select {
		case tid := <-fake.connected:
			t.Fatalf("frame %q brought %s online", frame, tid)
		default:
		}
	})
}
