package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
	"github.com/spf13/cobra"
)

// The demo's credentials are fixed so that its printed examples work as
// they stand. Never use them outside a demo.
const (
	demoMerchant       = "Demo Shop"
	demoTID            = "T125119061"
	demoTerminalSecret = "5e0c0a8c3b7f4e2d9a1b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
	demoCashier        = "016683"
	demoCashierSecret  = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

func demoCmd(e *env) *cobra.Command {
	var g gatewayFlags
	var addr string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Try posgate in one command: gateway, a simulated terminal, a sale and a reversal, then keep serving",
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), e, g, addr)
		},
	}
	g.register(c, "posgate-demo.db")
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	envFlag(c.Flags(), "addr", "POSGATE_ADDR")
	return c
}

func runDemo(ctx context.Context, e *env, g gatewayFlags, addr string) error {
	cfg := g.config(e)
	cfg.Acquirer = acquirer.Simulated{}
	// A developer trying posgate needs to see why a signature failed; a
	// production gateway must not log merchants' request data (httpapi).
	cfg.LogStringToSign = true
	// The demo's merchant endpoint is on this very server, on loopback.
	cfg.AllowPrivateNotify = true
	cfg.Routes = map[string]http.Handler{"POST /demo/notify": demoReceiver(e)}
	gw, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if err := provisionDemo(ctx, gw); err != nil {
		gw.Close()
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		gw.Close()
		return fmt.Errorf("%w (is another posgate running? try --addr 127.0.0.1:0)", err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ctx, ln, "", "") }()

	say := func(who, format string, args ...any) {
		fmt.Fprintf(e.stdout, "%-8s | %s\n", who, fmt.Sprintf(format, args...))
	}
	say("gateway", "serving %s (database %s)", base, redactDSN(g.db))
	term := prefixWriter{w: e.stdout, prefix: "terminal | "}
	go simterm.RunHeadless(ctx, simterm.Config{Server: base, TID: demoTID, Secret: demoTerminalSecret, AutoTap: true, CardDelay: 800 * time.Millisecond, Logger: cfg.Logger}, &term)
	if err := waitOnline(ctx, gw, demoTID); err != nil {
		return err
	}
	say("gateway", "terminal %s is online", demoTID)

	till := sdk.New(base, demoTID, demoTerminalSecret)
	say("merchant", "v3.POS: sale of EUR 12.50 on %s", demoTID)
	sale, err := till.Call(ctx, "v3.POS", map[string]string{
		"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": demoTID,
		"order_id": fmt.Sprint(time.Now().UnixNano() % 1e18), "amount": "12.50", "currency": "EUR",
		"description": "posgate demo", "notify_url": base + "/demo/notify", "request_id": sdk.NewRequestID(),
	})
	if err != nil {
		return err
	}
	say("merchant", "answer: %s", brief(sale))
	if !sale.Status {
		return fmt.Errorf("the demo sale failed: %s %s", sale.Code, sale.Message)
	}
	var order protocol.Order
	json.Unmarshal(sale.Data, &order)
	if err := waitPaid(ctx, till, order.TradeID); err != nil {
		return err
	}
	say("merchant", "order %s is paid; v3.POSReversal", order.TradeID)
	rev, err := till.Call(ctx, "v3.POSReversal", map[string]string{"tid": demoTID, "trade_id": order.TradeID, "request_id": sdk.NewRequestID()})
	if err != nil {
		return err
	}
	say("merchant", "answer: %s", brief(rev))
	printDemoHelp(e.stdout, base, order.TradeID, g.db, runningSelf())
	return <-served
}

// demoReceiver is the demo merchant's notification endpoint: it checks
// each notification as the official PHP SDK would (url-decode the raw
// body, parse, verify the signature over data) and prints it.
func demoReceiver(e *env) http.Handler {
	secrets := map[string]string{demoTID: demoTerminalSecret, demoCashier: demoCashierSecret}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
		verdict := "signature INVALID"
		var n protocol.Notification
		if decoded, err := url.QueryUnescape(string(raw)); err != nil || json.Unmarshal([]byte(decoded), &n) != nil {
			verdict = "body is not a notification"
		} else if secret, ok := secrets[n.Data["user"]]; ok && protocol.Verify(secret, protocol.StringToSign(n.Data), n.Sign) {
			verdict = "signature ok"
		}
		fmt.Fprintf(e.stdout, "%-8s | %s trade_id=%s state=%s (Webhook-Id %s)\n", "notify", verdict,
			n.Data["trade_id"], n.Data["state"], r.Header.Get("Webhook-Id"))
		io.WriteString(w, "success")
	})
}

func provisionDemo(ctx context.Context, gw *server.Gateway) error {
	now := time.Now()
	_, err := payment.AddTerminal(ctx, gw.Store, gw.Sealer, payment.NewTerminal{Merchant: demoMerchant, TID: demoTID, Secret: demoTerminalSecret}, now)
	if err != nil && !errors.Is(err, posgate.ErrDuplicate) {
		return err
	}
	_, err = payment.AddCashier(ctx, gw.Store, gw.Sealer, payment.NewCashier{Merchant: demoMerchant, UID: demoCashier, Secret: demoCashierSecret}, now)
	if err != nil && !errors.Is(err, posgate.ErrDuplicate) {
		return err
	}
	return nil
}

func waitOnline(ctx context.Context, gw *server.Gateway, tid string) error {
	deadline := time.Now().Add(10 * time.Second)
	for !gw.Hub.Online(tid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the simulated terminal did not connect within 10 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func waitPaid(ctx context.Context, c *sdk.Client, tradeID string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := c.Call(ctx, "v3.QueryOrder", map[string]string{"trade_id": tradeID})
		if err != nil {
			return err
		}
		var q struct {
			TransactionInfo protocol.Transaction `json:"transaction_info"`
		}
		json.Unmarshal(r.Data, &q)
		switch q.TransactionInfo.State {
		case "paid":
			return nil
		case "processing", "pending":
		default:
			return fmt.Errorf("the demo sale ended %s", q.TransactionInfo.State)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the demo sale was not paid within 30 s")
}

func brief(r *sdk.Response) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// printDemoHelp prints the follow-ups, with self the way to run posgate.
func printDemoHelp(w io.Writer, base, tradeID, db, self string) {
	fmt.Fprintf(w, `
posgate keeps serving at %[1]s (Ctrl-C stops it). Try it yourself:

  terminal  %[2]s  secret_key=%[3]s
  cashier   %[4]s      secret_key=%[5]s

  # query the order with curl (the signature is HMAC-SHA256 over the sorted fields)
  t=$(date +%%s); s="method=v3.QueryOrder&time=$t&trade_id=%[6]s&user=%[4]s"
  sig=$(printf '%%s' "$s" | openssl dgst -sha256 -hmac %[5]s | sed 's/^.* //')
  curl -s %[1]s/Payments -d "{\"user\":\"%[4]s\",\"sign\":\"$sig\",\"method\":\"v3.QueryOrder\",\"time\":$t,\"data\":{\"trade_id\":\"%[6]s\"}}"

  # watch a sale's notifications arrive, verified (listen in one shell, call in another)
  export POSGATE_SECRET=%[3]s
  %[8]s listen
  %[8]s call v3.POS --server %[1]s --user %[2]s pay_method=offline sub_pay_method=point_of_sales operation=1 order_id=$(date +%%s) amount=12.50 currency=EUR description=Coffee notify_url=http://127.0.0.1:8081/notify

  # connect a second simulated terminal with a screen (in another shell)
  %[8]s terminals add --db %[7]s --merchant "Demo Shop" --tid T2
  %[8]s terminal --server %[1]s --tid T2 --secret <secret_key printed above>
  # or headless, scripted through its control API: its next sale is declined
  %[8]s terminal --server %[1]s --tid T2 --secret <secret_key printed above> --headless --control-addr 127.0.0.1:8091
  curl -s -X POST 127.0.0.1:8091/v1/next -d '{"do":"decline"}'

Magic amounts (1.05 declined, 1.07 no card, 1.09 reversal declined...) and the control API are in docs/simulator.md.
`, base, demoTID, demoTerminalSecret, demoCashier, demoCashierSecret, tradeID, db, self)
}

// prefixWriter prefixes every line, so the terminal's screens and the
// merchant's calls can be told apart in one stream.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    strings.Builder
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	s := p.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(p.w, p.prefix+s[:i+1]); err != nil {
			return 0, err
		}
		s = s[i+1:]
	}
	p.buf.Reset()
	p.buf.WriteString(s)
	return len(b), nil
}
