package sdk

import (
	"errors"
	"io"
	"net/http"

	"github.com/posgate/posgate/protocol"
)

// Notification is a verified notification: posgate (or YabandPay) POSTs
// one to the notify_url on every state change of an order or refund.
type Notification struct {
	// ID is the Webhook-Id header: the same on every delivery attempt of
	// one event, so it is the key to drop duplicates on (deliveries repeat
	// until a 2xx answer).
	ID string
	// Data holds every signed field as sent: type ("payment" or "refund"),
	// user, trade_id, state, amount, ... (see Order for a payment's fields).
	Data map[string]string
}

// Type is "payment" or "refund".
func (n Notification) Type() string { return n.Data["type"] }

// TradeID is the order the notification is about.
func (n Notification) TradeID() string { return n.Data["trade_id"] }

// State is the order's (or refund's) new state.
func (n Notification) State() string { return n.Data["state"] }

// Secrets finds the secret_key of a user (a TID or cashier UID): a
// notification is signed with the secret of the user named in data.user.
type Secrets func(user string) (secret string, ok bool)

// SecretMap is Secrets over a fixed map of user to secret_key.
func SecretMap(m map[string]string) Secrets {
	return func(user string) (string, bool) { s, ok := m[user]; return s, ok }
}

// Notification verification failures.
var (
	ErrNotificationMalformed = errors.New("sdk: notification body is not {\"sign\",\"data\"} JSON")
	ErrNotificationSignature = errors.New("sdk: notification signature does not verify")
)

// maxNotificationBytes bounds the body read; real notifications are a few
// hundred bytes.
const maxNotificationBytes = 64 << 10

// VerifyNotification checks a notification body exactly as received: JSON
// {"sign","data"}, sign the HMAC-SHA256 over data's fields (sorted
// key=value pairs joined by '&') with the secret of data.user. Failures
// wrap ErrNotificationMalformed or ErrNotificationSignature.
func VerifyNotification(body []byte, secrets Secrets) (Notification, error) {
	// The server's own strict decoder: a repeated or case-twin key, or a
	// nested value, could make this check and the merchant's later parse
	// see different data.
	req, err := protocol.DecodeRequest(body)
	if err != nil {
		return Notification{}, errors.Join(ErrNotificationMalformed, err)
	}
	user := req.Data["user"]
	if req.Sign == "" || user == "" {
		return Notification{}, ErrNotificationMalformed
	}
	secret, ok := secrets(user)
	if !ok || !protocol.Verify(secret, protocol.StringToSign(req.Data), req.Sign) {
		return Notification{}, ErrNotificationSignature
	}
	return Notification{Data: req.Data}, nil
}

// NotificationHandler serves a notify_url. It verifies each notification
// and calls handle with it; it answers 200 only once handle returned nil,
// and 500 otherwise so the gateway delivers it again later. Forged bodies
// get 401, malformed ones 400, and handle never sees them. handle must be
// idempotent: the same notification (same ID) can arrive more than once.
func NotificationHandler(secrets Secrets, handle func(Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		n, err := VerifyNotification(body, secrets)
		switch {
		case errors.Is(err, ErrNotificationSignature):
			http.Error(w, "signature does not verify", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "malformed notification", http.StatusBadRequest)
			return
		}
		n.ID = r.Header.Get("Webhook-Id")
		if err := handle(n); err != nil {
			// The handler's error text is the merchant's business, not the
			// gateway's: it only needs to know to try again.
			http.Error(w, "not processed; deliver again", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "success")
	})
}
