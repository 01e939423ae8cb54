// Package sdk is the merchant side of posgate: a client that signs and sends
// YabandPay v3 requests, typed methods for every method posgate serves,
// typed errors carrying the result code, and a handler that verifies the
// gateway's signed notifications. It depends on the standard library and
// the protocol module only, so a till never pulls in the server.
package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate/protocol"
)

// Client calls one posgate (or YabandPay) endpoint as one user: a
// terminal's TID for the POS methods, a cashier's UID (or the TID) for the
// others. A Client is safe for concurrent use once configured.
type Client struct {
	BaseURL string
	User    string
	Secret  string
	HTTP    *http.Client
	// Now is the clock that stamps requests (default time.Now).
	Now func() time.Time
	// Retries is how many times a failed send is repeated where that is
	// safe (default 2); RetryDelay is the first pause, doubled after each
	// attempt (default 250 ms).
	Retries    int
	RetryDelay time.Duration
}

// New returns a client for baseURL (for example http://127.0.0.1:8080).
func New(baseURL, user, secret string) *Client {
	return &Client{
		BaseURL:    strings.TrimRight(baseURL, "/"),
		User:       user,
		Secret:     secret,
		HTTP:       &http.Client{Timeout: 90 * time.Second},
		Now:        time.Now,
		Retries:    2,
		RetryDelay: 250 * time.Millisecond,
	}
}

// Response is an answer envelope with data left raw.
type Response struct {
	Status     bool            `json:"status"`
	Code       protocol.Code   `json:"code"`
	Data       json.RawMessage `json:"data"`
	Message    string          `json:"message"`
	ResponseID string          `json:"response_id"`
}

// Envelope builds the signed request body for method and data, and returns
// the string it signed.
func (c *Client) Envelope(method string, data map[string]string) (body []byte, stringToSign string) {
	t := strconv.FormatInt(c.Now().Unix(), 10)
	fields := map[string]string{"user": c.User, "method": method, "time": t}
	for k, v := range data {
		fields[k] = v
	}
	toSign := protocol.StringToSign(fields)
	if data == nil {
		data = map[string]string{}
	}
	body, _ = json.Marshal(struct {
		User   string            `json:"user"`
		Sign   string            `json:"sign"`
		Method string            `json:"method"`
		Time   json.Number       `json:"time"`
		Data   map[string]string `json:"data"`
	}{c.User, protocol.Sign(c.Secret, toSign), method, json.Number(t), data})
	return body, toSign
}

// Call signs and sends one request of any method. A failure answer (status
// false) is not an error here: the caller reads Code. Errors are transport
// failures, after the retries that are safe for the request:
//   - v3.QueryOrder and v3.QueryRefundOrder change nothing, so network
//     errors and HTTP 5xx are retried, re-signed with a fresh time;
//   - a request carrying request_id is retried only as the identical body
//     (same time, sign and request_id), which posgate recognises as a
//     repeat (-3002) instead of acting twice;
//   - anything else (v3.CancelPayment) is retried only when the connection
//     was never made, so the request cannot have been received.
func (c *Client) Call(ctx context.Context, method string, data map[string]string) (*Response, error) {
	policy := retryNotSent
	switch {
	case method == MethodQueryOrder || method == MethodQueryRefundOrder:
		policy = retryResign
	case data["request_id"] != "":
		policy = retrySameBody
	}
	body, _ := c.Envelope(method, data)
	delay := c.RetryDelay
	for attempt := 0; ; attempt++ {
		resp, err := c.post(ctx, body)
		if err == nil {
			return resp, nil
		}
		if attempt >= c.Retries || ctx.Err() != nil || !policy.allows(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay *= 2
		if policy == retryResign {
			body, _ = c.Envelope(method, data)
		}
	}
}

type retryPolicy int

const (
	retryNotSent retryPolicy = iota
	retrySameBody
	retryResign
)

func (p retryPolicy) allows(err error) bool {
	if notSent(err) {
		return true
	}
	if p == retryNotSent {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 500
	}
	return true // a network error after the connection was made
}

// notSent reports whether err proves the request never reached the server:
// the dial itself failed (connection refused, no route, DNS).
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// statusError is an HTTP answer without an envelope, typically from a
// proxy in front of the gateway.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("posgate answered HTTP %d without an envelope: %q", e.status, e.body)
}

func (c *Client) post(ctx context.Context, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/Payments", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var out Response
	// posgate answers an envelope whatever the HTTP status (413 included);
	// anything else came from something in between.
	if err := json.Unmarshal(raw, &out); err != nil || out.Code == "" {
		if len(raw) > 200 {
			raw = raw[:200]
		}
		return nil, &statusError{status: resp.StatusCode, body: string(raw)}
	}
	return &out, nil
}

// NewRequestID returns 32 random lowercase letters and digits, uniformly
// drawn (about 165 bits).
func NewRequestID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	// 252 is the largest multiple of 36 below 256: bytes at or above it are
	// dropped so every character is equally likely.
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, 32)
	buf := make([]byte, 48)
	for len(out) < cap(out) {
		rand.Read(buf) // never fails (crypto/rand documents it)
		for _, b := range buf {
			if int(b) < limit && len(out) < cap(out) {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
