package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
)

// AttemptTimeout bounds one delivery attempt, from dial to the answer.
const AttemptTimeout = 10 * time.Second

// UserAgent names posgate to the merchant's endpoint.
const UserAgent = "posgate-notify/1 (+https://github.com/posgate/posgate)"

// Body is the notification as it goes on the wire: {"sign":"...","data":{...}}
// with '+' and '%' escaped inside strings (see protocol.Marshal), signed over
// the data fields with the secret of the notification's user.
func Body(secret string, n posgate.Notification) ([]byte, error) {
	data := n.Payload
	if data == nil {
		data = map[string]string{}
	}
	return protocol.Marshal(protocol.Notification{Sign: protocol.SignFields(secret, data), Data: data})
}

// Sender POSTs notifications. It never follows redirects, and unless
// private addresses are allowed it refuses to connect to any address a
// merchant should not be able to make the gateway reach (see Refused).
type Sender struct {
	client *http.Client
}

// NewSender builds a Sender; allowPrivate lifts the address check, for
// local development.
func NewSender(allowPrivate bool) *Sender {
	dialer := &net.Dialer{Timeout: AttemptTimeout}
	if !allowPrivate {
		// Checked on the address actually dialled, after DNS resolution,
		// so a name that resolves (or re-resolves) inward is refused too.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refused: cannot check address %q", address)
			}
			if why := Refused(ap.Addr()); why != "" {
				return fmt.Errorf("refused: %s is %s; notifications may go only to public addresses (serve --allow-private-notify lifts this)", ap.Addr(), why)
			}
			return nil
		}
	}
	return &Sender{client: &http.Client{
		Timeout: AttemptTimeout,
		Transport: &http.Transport{
			// No proxy: it would dial for us and defeat the address check.
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: AttemptTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send makes one delivery attempt at time now. Any 2xx answer is success;
// anything else, a redirect included, is an error fit for LastError: it
// never quotes the URL (which may carry the merchant's token) nor the
// secret.
func (s *Sender) Send(ctx context.Context, secret string, n posgate.Notification, now time.Time) error {
	body, err := Body(secret, n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.NotifyURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid notify_url")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("notify_url scheme %q is not http or https", req.URL.Scheme)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Webhook-Id", n.ID)
	req.Header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	// Drain a little so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("HTTP %d: redirects are not followed", resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}
