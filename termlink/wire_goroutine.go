package termlink

import (
	"context"
	"net/http"

	"github.com/coder/websocket"

	"github.com/posgate/posgate/termproto"
)

// goroutines is the IOGoroutine transport: coder/websocket, with one
// goroutine per connection blocked in its read.
type goroutines struct{ h *Hub }

func (g goroutines) upgrade(w http.ResponseWriter, r *http.Request, c *conn) (wire, error) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{termproto.Subprotocol},
		CompressionMode: websocket.CompressionDisabled,
		// Origin checks protect cookie sessions from cross-site pages;
		// terminals authenticate with a signed hello, and embedded browsers
		// on some terminals send their own Origin.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(termproto.MaxFrameBytes)
	go g.read(ws, c)
	return coderWire{ws}, nil
}

// read delivers ws's messages until the connection ends or the hub ends
// it.
func (g goroutines) read(ws *websocket.Conn, c *conn) {
	c.waitSetup()
	for {
		typ, b, err := ws.Read(context.Background())
		if err != nil {
			g.h.ended(c, err)
			return
		}
		if !g.h.receive(c, typ == websocket.MessageText, b) {
			return
		}
	}
}

func (g goroutines) ended(*conn) {}

func (g goroutines) stop() {}

type coderWire struct{ ws *websocket.Conn }

func (w coderWire) Subprotocol() string { return w.ws.Subprotocol() }

func (w coderWire) Write(b []byte) error {
	// A cancelled context closes a coder/websocket connection mid-write,
	// so only writeTimeout may end a write.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return w.ws.Write(ctx, websocket.MessageText, b)
}

func (w coderWire) Close(code int, reason string) {
	w.ws.Close(websocket.StatusCode(code), reason)
}

func (w coderWire) CloseNow() { w.ws.CloseNow() }
