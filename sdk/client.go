// Package sdk is the merchant side of posgate: a client that signs and
// sends YabandPay v3 requests. It depends on the standard library and the
// protocol package only.
package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate/protocol"
)

// Client calls one posgate (or YabandPay) endpoint as one user.
type Client struct {
	BaseURL string
	User    string
	Secret  string
	HTTP    *http.Client
	// Now is the clock that stamps requests (default time.Now).
	Now func() time.Time
}

// New returns a client for baseURL (for example http://127.0.0.1:8080).
func New(baseURL, user, secret string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), User: user, Secret: secret, HTTP: &http.Client{Timeout: 90 * time.Second}, Now: time.Now}
}

// Response is an answer envelope with data left raw.
type Response struct {
	Status     bool            `json:"status"`
	Code       protocol.Code   `json:"code"`
	Data       json.RawMessage `json:"data"`
	Message    string          `json:"message"`
	ResponseID string          `json:"response_id"`
}

// Envelope builds the signed request body for method and data.
func (c *Client) Envelope(method string, data map[string]string) ([]byte, string) {
	t := strconv.FormatInt(c.Now().Unix(), 10)
	fields := map[string]string{"user": c.User, "method": method, "time": t}
	for k, v := range data {
		fields[k] = v
	}
	toSign := protocol.StringToSign(fields)
	body, _ := json.Marshal(struct {
		User   string            `json:"user"`
		Sign   string            `json:"sign"`
		Method string            `json:"method"`
		Time   json.Number       `json:"time"`
		Data   map[string]string `json:"data"`
	}{c.User, protocol.Sign(c.Secret, toSign), method, json.Number(t), data})
	return body, toSign
}

// Call signs and sends one request. A failure answer (status false) is not
// an error here: the caller reads Code.
func (c *Client) Call(ctx context.Context, method string, data map[string]string) (*Response, error) {
	body, _ := c.Envelope(method, data)
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
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("posgate answered HTTP %d with a body that is not an envelope: %w", resp.StatusCode, err)
	}
	return &out, nil
}

// NewRequestID returns 32 random lowercase letters and digits.
func NewRequestID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
