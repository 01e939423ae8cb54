package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/posgate/posgate/protocol"
	_ "modernc.org/sqlite" // the baseline's durable commit
)

// BaselineServer is the simplest program that does a payment request's
// irreducible work: verify the HMAC, make one durable SQLite commit
// (synchronous=FULL), make one WebSocket round trip to the terminal, answer
// a fixed body. Queries verify and read. It serves on addr until ctx ends.
func BaselineServer(ctx context.Context, addr, dbPath string) error {
	db, err := sql.Open("sqlite", dbPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS ops (id INTEGER PRIMARY KEY, user TEXT, method TEXT, at INTEGER)`); err != nil {
		return err
	}
	b := &baseline{db: db, terms: map[string]*bareConn{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /terminal", b.terminal)
	mux.HandleFunc("POST /Payments", b.payments)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type baseline struct {
	db    *sql.DB
	mu    sync.Mutex
	terms map[string]*bareConn
	seq   atomic.Int64
}

// bareConn is a bare terminal: it echoes each message; replies find their
// caller by the message's id.
type bareConn struct {
	c       *websocket.Conn
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

func (b *baseline) terminal(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	bc := &bareConn{c: c, waiting: map[string]chan struct{}{}}
	b.mu.Lock()
	b.terms[r.URL.Query().Get("tid")] = bc
	b.mu.Unlock()
	for {
		_, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		bc.mu.Lock()
		ch := bc.waiting[string(msg)]
		delete(bc.waiting, string(msg))
		bc.mu.Unlock()
		if ch != nil {
			close(ch)
		}
	}
}

func (b *baseline) roundTrip(ctx context.Context, tid string) error {
	b.mu.Lock()
	bc := b.terms[tid]
	b.mu.Unlock()
	if bc == nil {
		return errors.New("terminal offline")
	}
	id := strconv.FormatInt(b.seq.Add(1), 10)
	ch := make(chan struct{})
	bc.mu.Lock()
	bc.waiting[id] = ch
	bc.mu.Unlock()
	if err := bc.c.Write(ctx, websocket.MessageText, []byte(id)); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *baseline) payments(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
	req, err := protocol.DecodeRequest(body)
	if err != nil || !protocol.Verify(secretOf(req.User), req.StringToSign(), req.Sign) {
		w.Write([]byte(`{"status":false,"code":"-1001","data":null,"message":"Authentication failed"}`))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	fail := func(err error) {
		fmt.Fprintf(w, `{"status":false,"code":"-5000","data":null,"message":%q}`, err.Error())
	}
	switch req.Method {
	case "v3.QueryOrder":
		var n int
		if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM ops WHERE id = ?`, 1).Scan(&n); err != nil {
			fail(err)
			return
		}
		w.Write([]byte(`{"status":true,"code":"200","data":{"transaction_info":{"state":"paid"}},"message":""}`))
	default:
		if _, err := b.db.ExecContext(ctx, `INSERT INTO ops (user, method, at) VALUES (?, ?, ?)`, req.User, req.Method, time.Now().UnixMicro()); err != nil {
			fail(err)
			return
		}
		if err := b.roundTrip(ctx, req.User); err != nil {
			fail(err)
			return
		}
		out, _ := json.Marshal(map[string]any{"status": true, "code": "200", "message": "", "data": map[string]string{"trade_id": "00000000-0000-0000-0000-000000000000", "state": "processing"}})
		w.Write(out)
	}
}

// connectBareTerminals connects n bare echo terminals to a baseline server.
func connectBareTerminals(ctx context.Context, url string, n int) (stop func(), err error) {
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	for i := range n {
		c, _, err := websocket.Dial(ctx, "ws"+url[len("http"):]+"/terminal?tid="+tid(i), nil)
		if err != nil {
			stop()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.CloseNow()
			go func() { <-tctx.Done(); c.CloseNow() }()
			for {
				_, msg, err := c.Read(tctx)
				if err != nil {
					return
				}
				if err := c.Write(tctx, websocket.MessageText, msg); err != nil {
					return
				}
			}
		}()
	}
	return stop, nil
}
