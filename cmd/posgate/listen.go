package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/spf13/cobra"
)

// listenFlags are posgate listen's settings.
type listenFlags struct {
	addr, secret, secretFile, forwardTo, output string
	forwardTimeout                              time.Duration
}

func listenCmd(e *env) *cobra.Command {
	var lf listenFlags
	c := &cobra.Command{
		Use:   "listen",
		Short: "Receive notifications, verify their signatures and print them (optionally forward them to your endpoint)",
		Long: `Receive the gateway's notifications on a local address, verify each one's
signature with the merchant's secret_key, and print it: one line each, or a
JSON object per line with -o json. Use the printed URL (any path) as the
orders' notify_url; a gateway on the same machine needs
--allow-private-notify to deliver to it.

A verified notification is answered 200 "success", which the gateway takes
as delivered. A notification whose signature does not verify, or whose body
is not one, is printed as REFUSED and answered 401 (400), which the gateway
takes as a failure and retries on its schedule: fix the secret and restart
listen, and the retries verify. With --forward-to the verified body goes,
unchanged and with its Webhook-Id and Webhook-Timestamp headers, to your own
endpoint, and its answer (status and body) is the gateway's answer: your
endpoint decides whether the gateway retries.

The secret comes from --secret or, when that is not given, from the
environment variable POSGATE_SECRET, which other users cannot see in ps; it
verifies notifications of any user. For several users (terminals and
cashiers each sign with their own secret), --secret-file names a file of
USER=SECRET lines (a line with a bare SECRET serves every other user; blank
lines and lines starting with # are ignored).`,
		Example: `  export POSGATE_SECRET=<secret_key>
  posgate listen --addr 127.0.0.1:8081
  posgate listen --secret-file secrets.txt --forward-to http://127.0.0.1:3000/notify -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkPositive(c); err != nil {
				return err
			}
			return runListen(c.Context(), e, lf)
		},
	}
	f := c.Flags()
	f.StringVar(&lf.addr, "addr", "127.0.0.1:8081", "listen address")
	f.StringVar(&lf.secret, "secret", "", "the secret_key that verifies notifications; prefer the variable, which other users cannot see in ps")
	envFlag(f, "secret", "POSGATE_SECRET")
	f.StringVar(&lf.secretFile, "secret-file", "", "file of USER=SECRET lines, for notifications of several users")
	f.StringVar(&lf.forwardTo, "forward-to", "", "forward each verified notification, unchanged, to this URL and answer the gateway with its answer")
	f.DurationVar(&lf.forwardTimeout, "forward-timeout", 10*time.Second, "how long the --forward-to endpoint may take to answer (the gateway waits 10 s per attempt)")
	f.StringVarP(&lf.output, "output", "o", "text", "output format: text (one line each) or json (one object per line)")
	positive(f, "forward-timeout")
	return c
}

func runListen(ctx context.Context, e *env, lf listenFlags) error {
	if lf.output != "text" && lf.output != "json" {
		return fmt.Errorf("-o %q: want text or json", lf.output)
	}
	secrets, err := listenSecrets(lf.secret, lf.secretFile)
	if err != nil {
		return err
	}
	l := &listener{secrets: secrets, json: lf.output == "json", out: e.stdout}
	if lf.forwardTo != "" {
		u, err := url.Parse(lf.forwardTo)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--forward-to %q: want an http:// or https:// URL", lf.forwardTo)
		}
		l.forwardTo = lf.forwardTo
		// Redirects are not followed, as the gateway does not follow them:
		// what the merchant's endpoint answers is what the gateway would see.
		l.client = &http.Client{Timeout: lf.forwardTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ln, err := net.Listen("tcp", lf.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: lf.forwardTimeout + 30*time.Second, MaxHeaderBytes: 32 << 10}
	fwd := ""
	if l.forwardTo != "" {
		fwd = "; forwarding verified ones to " + l.forwardTo
	}
	fmt.Fprintf(e.stderr, "posgate listen: notify_url http://%s/notify (any path)%s\n", ln.Addr(), fwd)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

// listenSecrets builds the secrets that verify notifications: per user
// from the file, and one for any user from --secret (or a bare line).
func listenSecrets(secret, file string) (sdk.Secrets, error) {
	users := map[string]string{}
	fallback := secret
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			user, s, ok := strings.Cut(line, "=")
			user, s = strings.TrimSpace(user), strings.TrimSpace(s)
			switch {
			case !ok && fallback == "":
				fallback = user
			case !ok:
				// Never quote the line: it holds a secret.
				return nil, fmt.Errorf("--secret-file %s line %d: a second secret for every user", file, n)
			case user == "" || s == "":
				return nil, fmt.Errorf("--secret-file %s line %d: want USER=SECRET", file, n)
			default:
				users[user] = s
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
	}
	if fallback == "" && len(users) == 0 {
		return nil, errors.New("--secret (or POSGATE_SECRET) or --secret-file is required")
	}
	return func(user string) (string, bool) {
		if s, ok := users[user]; ok {
			return s, true
		}
		return fallback, fallback != ""
	}, nil
}

// listener verifies, prints and answers (or forwards) each notification.
type listener struct {
	secrets   sdk.Secrets
	json      bool
	forwardTo string
	client    *http.Client

	mu  sync.Mutex // one line at a time on out
	out io.Writer
}

// received is what listen prints about one notification (-o json: as is).
type received struct {
	Verified  bool              `json:"verified"`
	Error     string            `json:"error,omitempty"`
	WebhookID string            `json:"webhook_id,omitempty"`
	Path      string            `json:"path"`
	Data      map[string]string `json:"data,omitempty"`
	// Answer is the HTTP status the gateway got.
	Answer       int    `json:"answer"`
	Forwarded    bool   `json:"forwarded,omitempty"`
	ForwardError string `json:"forward_error,omitempty"`
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	rec := received{WebhookID: r.Header.Get("Webhook-Id"), Path: r.URL.Path}
	defer func() { l.print(rec) }()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
	if err != nil {
		rec.Error, rec.Answer = "body unreadable or over 64 KiB: "+err.Error(), http.StatusRequestEntityTooLarge
		http.Error(w, "body too large", rec.Answer)
		return
	}
	n, err := sdk.VerifyNotification(body, l.secrets)
	if err != nil {
		rec.Error, rec.Answer = "malformed notification", http.StatusBadRequest
		if errors.Is(err, sdk.ErrNotificationSignature) {
			rec.Error, rec.Answer = "signature does not verify (wrong secret for data.user, or forged)", http.StatusUnauthorized
		}
		// The unverified fields name what was refused; they are marked as such.
		if req, err := protocol.DecodeRequest(body); err == nil {
			rec.Data = req.Data
		}
		http.Error(w, rec.Error, rec.Answer)
		return
	}
	rec.Verified, rec.Data = true, n.Data
	if l.forwardTo == "" {
		rec.Answer = http.StatusOK
		io.WriteString(w, "success")
		return
	}
	rec.Forwarded = true
	status, header, answer, err := l.forward(r, body)
	if err != nil {
		// The gateway retries a 502, so nothing is lost while the
		// merchant's endpoint is down.
		rec.ForwardError, rec.Answer = err.Error(), http.StatusBadGateway
		http.Error(w, "forward failed", rec.Answer)
		return
	}
	rec.Answer = status
	if ct := header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	w.Write(answer)
}

// forward POSTs the verified body unchanged, with the gateway's headers,
// and returns the endpoint's answer (its body cut at 64 KiB).
func (l *listener) forward(in *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(in.Context(), http.MethodPost, l.forwardTo, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for _, h := range []string{"Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp"} {
		if v := in.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxBodyBytes))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, answer, nil
}

func (l *listener) print(rec received) {
	var line string
	if l.json {
		b, _ := json.Marshal(rec)
		line = string(b)
	} else {
		line = rec.text()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.out, line)
}

// text is the one-line summary: the verdict, the fields a developer looks
// for first, then the gateway's answer.
func (rec received) text() string {
	var b strings.Builder
	if rec.Verified {
		b.WriteString("verified")
	} else {
		b.WriteString("REFUSED " + strconv.Quote(rec.Error))
	}
	field := func(k, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, " \t\r\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	first := []string{"type", "user", "trade_id", "refund_id", "state", "amount", "currency", "sequence"}
	for _, k := range first {
		field(k, rec.Data[k])
	}
	field("webhook_id", rec.WebhookID)
	if rec.Forwarded {
		field("forward_error", rec.ForwardError)
	}
	field("answer", strconv.Itoa(rec.Answer))
	if rec.Answer < 200 || rec.Answer > 299 {
		b.WriteString(" (the gateway retries it)")
	}
	return b.String()
}
