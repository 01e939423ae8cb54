package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/posgate/posgate"
)

// notificationView is a notification as operators see it: never the
// payload's signature, which only the delivery computes.
type notificationView struct {
	ID          string            `json:"id"`
	TradeID     string            `json:"trade_id"`
	RefundID    string            `json:"refund_id,omitempty"`
	User        string            `json:"user"`
	NotifyURL   string            `json:"notify_url"`
	Data        map[string]string `json:"data"`
	CreatedAt   time.Time         `json:"created_at"`
	Attempts    int               `json:"attempts"`
	DeliveredAt *time.Time        `json:"delivered_at"`
	LastError   string            `json:"last_error"`
	NextAttempt *time.Time        `json:"next_attempt"`
}

func viewNotification(n posgate.Notification) notificationView {
	v := notificationView{
		ID: n.ID, TradeID: n.TradeID, RefundID: n.RefundID, User: n.User, NotifyURL: n.NotifyURL, Data: n.Payload,
		CreatedAt: n.CreatedAt, Attempts: n.Attempts, DeliveredAt: n.DeliveredAt, LastError: n.LastError,
	}
	if !n.NextAttempt.IsZero() && n.DeliveredAt == nil {
		v.NextAttempt = &n.NextAttempt
	}
	return v
}

// listNotifications: ?failed=1 for the undelivered that failed, ?limit=N
// (default 100, at most 1000).
func (a *api) listNotifications(w http.ResponseWriter, r *http.Request) (any, int) {
	q := r.URL.Query()
	failed, _ := strconv.ParseBool(q.Get("failed"))
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return map[string]string{"error": "limit must be 1 to 1000"}, http.StatusBadRequest
		}
		limit = n
	}
	ns, err := a.svc.Notifications(r.Context(), failed, limit)
	if err != nil {
		a.log.Error("admin: list notifications", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	out := make([]notificationView, 0, len(ns))
	for _, n := range ns {
		out = append(out, viewNotification(n))
	}
	return map[string]any{"notifications": out}, http.StatusOK
}

func (a *api) replayNotification(w http.ResponseWriter, r *http.Request) (any, int) {
	by := operatorOf(r)
	n, err := a.svc.ReplayNotification(r.Context(), by, r.PathValue("id"))
	if errors.Is(err, posgate.ErrNotFound) {
		return map[string]string{"error": "no such notification"}, http.StatusNotFound
	}
	if err != nil {
		a.log.Error("admin: replay notification", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	a.log.Info("admin: notification replayed", "id", n.ID, "trade_id", n.TradeID, "operator", by, "remote", r.RemoteAddr)
	return map[string]any{"replayed": viewNotification(n)}, http.StatusAccepted
}
