package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
)

// OrderView is an order as operators see it.
type OrderView struct {
	TradeID        string     `json:"trade_id"`
	OrderID        string     `json:"order_id"`
	MerchantID     int64      `json:"merchant_id"`
	TID            string     `json:"tid"`
	User           string     `json:"user"`
	Operation      string     `json:"operation"`
	Amount         string     `json:"amount"`
	TipAmount      string     `json:"tip_amount"`
	Currency       string     `json:"currency"`
	Description    string     `json:"description"`
	State          string     `json:"state"`
	TransactionID  string     `json:"transaction_id"`
	RefundedAmount string     `json:"refunded_amount"`
	RefundCount    int        `json:"refund_count"`
	BusinessDate   string     `json:"business_date"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	PaidAt         *time.Time `json:"paid_at"`
	ClearedAt      *time.Time `json:"cleared_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	// The receipt data of the terminal's approval, when it sent some.
	protocol.Card
}

// ViewOrder is o for operators.
func ViewOrder(o posgate.Order) OrderView {
	cur, _ := posgate.LookupCurrency(o.Currency)
	op := "sale"
	if o.Operation == posgate.OpAuthorisation {
		op = "authorisation"
	}
	return OrderView{
		TradeID: o.TradeID, OrderID: o.OrderID, MerchantID: o.MerchantID, TID: o.TID, User: o.User, Operation: op,
		Amount: posgate.FormatAmount(o.Amount, cur), TipAmount: posgate.FormatAmount(o.TipAmount, cur), Currency: o.Currency,
		Description: o.Description, State: string(o.State), TransactionID: o.TransactionID,
		RefundedAmount: posgate.FormatAmount(o.RefundedAmount, cur), RefundCount: o.RefundCount, BusinessDate: o.BusinessDate,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, PaidAt: o.PaidAt, ClearedAt: o.ClearedAt, ExpiresAt: o.ExpiresAt,
		Card: viewCard(o.Receipt),
	}
}

// TimelineEntryView is one step of an order's history; the fields of its
// kind are set.
type TimelineEntryView struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
	// request
	Method    string `json:"method,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Caller    string `json:"caller,omitempty"`
	// command, progress, result, command_abandoned
	CommandID   string `json:"command_id,omitempty"`
	CommandKind string `json:"command_kind,omitempty"`
	Stage       string `json:"stage,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Late        bool   `json:"late,omitempty"`
	Repeat      bool   `json:"repeat,omitempty"`
	// reversal, reversal_finished
	ReversalID string `json:"reversal_id,omitempty"`
	// refund, refund_updated
	RefundID string `json:"refund_id,omitempty"`
	// Amount of the refund, the capture or the decrement (the reduction).
	Amount string `json:"amount,omitempty"`
	// capture, capture_finished
	CaptureID        string `json:"capture_id,omitempty"`
	AuthorisedAmount string `json:"authorised_amount,omitempty"` // when the capture was asked for
	// decrement, decrement_finished: the authorised amount before and
	// after it
	DecrementID      string `json:"decrement_id,omitempty"`
	AuthorisedBefore string `json:"authorised_before,omitempty"`
	AuthorisedAfter  string `json:"authorised_after,omitempty"`
	AcquirerRef      string `json:"acquirer_reference,omitempty"`
	// notification
	NotificationID string     `json:"notification_id,omitempty"`
	NotifyURL      string     `json:"notify_url,omitempty"`
	Attempts       *int       `json:"attempts,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	// operator_action: who did what (subject: the refund or notification
	// it was on, in RefundID or NotificationID; message: the detail)
	Operator string `json:"operator,omitempty"`
	Action   string `json:"action,omitempty"`
	// State of the reversal, refund, capture or decrement, or a
	// notification's delivery status (delivered, failing, pending).
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
}

// OrderTimeline is GET /admin/v1/orders/{trade_id}: the order and what
// happened to it, oldest first. posgate orders show -o json prints it.
type OrderTimeline struct {
	Order    OrderView           `json:"order"`
	Timeline []TimelineEntryView `json:"timeline"`
}

// ViewTimeline is tl for operators.
func ViewTimeline(tl payment.Timeline) OrderTimeline {
	out := OrderTimeline{Order: ViewOrder(tl.Order), Timeline: make([]TimelineEntryView, 0, len(tl.Entries))}
	for _, e := range tl.Entries {
		v := TimelineEntryView{At: e.At.UTC(), Kind: string(e.Kind), Summary: e.Summary(tl.Order), Late: e.Late, Repeat: e.Repeat}
		if r := e.Request; r != nil {
			v.Method, v.RequestID, v.Caller = r.Method, r.RequestID, r.User
		}
		if c := e.Command; c != nil {
			v.CommandID, v.CommandKind = c.ID, string(c.Kind)
			if e.Kind == payment.EntryAbandoned {
				v.Outcome, v.Message = string(c.Outcome), c.Message
			}
		}
		if ev := e.Event; ev != nil {
			v.Stage, v.Message = string(ev.Stage), ev.Message
			if e.Kind == payment.EntryResult {
				v.Outcome = string(ev.Stage)[len(posgate.ResultStage("")):]
			}
		}
		if r := e.Reversal; r != nil {
			v.ReversalID, v.RequestID, v.State, v.Message = r.ID, r.RequestID, string(r.State), r.Reason
		}
		if r := e.Refund; r != nil {
			cur, _ := posgate.LookupCurrency(r.Currency)
			v.RefundID, v.Amount, v.State, v.Message, v.Caller = r.RefundID, posgate.FormatAmount(r.Amount, cur)+" "+r.Currency, string(r.State), r.Message, r.User
			v.RequestID = r.RequestID
		}
		if c := e.Capture; c != nil {
			cur, _ := posgate.LookupCurrency(c.Currency)
			v.CaptureID, v.Amount, v.AuthorisedAmount = c.CaptureID, posgate.FormatAmount(c.Amount, cur)+" "+c.Currency, posgate.FormatAmount(c.AuthorisedAmount, cur)+" "+c.Currency
			v.State, v.Message, v.Caller, v.RequestID, v.AcquirerRef = string(c.State), c.Message, c.User, c.RequestID, c.AcquirerRef
		}
		if d := e.Decrement; d != nil {
			cur, _ := posgate.LookupCurrency(d.Currency)
			money := func(minor int64) string { return posgate.FormatAmount(minor, cur) + " " + d.Currency }
			v.DecrementID, v.Amount, v.AuthorisedBefore, v.AuthorisedAfter = d.DecrementID, money(d.Amount), money(d.Before), money(d.After)
			v.State, v.Message, v.Caller, v.RequestID, v.AcquirerRef = string(d.State), d.Message, d.User, d.RequestID, d.AcquirerRef
		}
		if n := e.Notification; n != nil {
			attempts := n.Attempts
			v.NotificationID, v.NotifyURL, v.Attempts, v.DeliveredAt, v.LastError = n.ID, n.NotifyURL, &attempts, n.DeliveredAt, n.LastError
			v.State, v.RefundID = payment.DeliveryStatus(*n), n.RefundID
		}
		if a := e.Action; a != nil {
			v.Operator, v.Action, v.Message = a.Operator, string(a.Action), a.Detail
			switch a.Action {
			case posgate.ActionNotificationReplay:
				v.NotificationID = a.Subject
			default:
				v.RefundID = a.Subject
			}
		}
		out.Timeline = append(out.Timeline, v)
	}
	return out
}

func (a *api) getOrder(w http.ResponseWriter, r *http.Request) (any, int) {
	tl, err := a.svc.Timeline(r.Context(), r.PathValue("trade_id"))
	if errors.Is(err, posgate.ErrNotFound) {
		return map[string]string{"error": "no such order"}, http.StatusNotFound
	}
	if err != nil {
		a.log.Error("admin: order timeline", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	return ViewTimeline(tl), http.StatusOK
}

// ParseOrderFilter reads the filters of an order listing: tid, state,
// order_id, from and to (RFC 3339, from inclusive, to exclusive) and
// limit (1 to payment.MaxOrders, default 100).
func ParseOrderFilter(get func(string) string) (posgate.OrderFilter, error) {
	f := posgate.OrderFilter{TID: get("tid"), State: posgate.State(get("state")), OrderID: get("order_id"), Limit: 100}
	if f.State != "" && !validState(f.State) {
		return f, errors.New("state must be one of pending, processing, paid, authorized, declined, failed, expired, cancelled")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, errors.New(p.name + " must be an RFC 3339 time, like 2026-05-01T00:00:00Z")
			}
			*p.dst = t
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > payment.MaxOrders {
			return f, errors.New("limit must be 1 to " + strconv.Itoa(payment.MaxOrders))
		}
		f.Limit = n
	}
	return f, nil
}

func validState(s posgate.State) bool {
	switch s {
	case posgate.StatePending, posgate.StateProcessing, posgate.StatePaid, posgate.StateAuthorized,
		posgate.StateDeclined, posgate.StateFailed, posgate.StateExpired, posgate.StateCancelled:
		return true
	}
	return false
}

// listOrders: GET /admin/v1/orders with ParseOrderFilter's parameters.
func (a *api) listOrders(w http.ResponseWriter, r *http.Request) (any, int) {
	f, err := ParseOrderFilter(r.URL.Query().Get)
	if err != nil {
		return map[string]string{"error": err.Error()}, http.StatusBadRequest
	}
	os, err := a.svc.Orders(r.Context(), f)
	if err != nil {
		a.log.Error("admin: list orders", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	out := make([]OrderView, 0, len(os))
	for _, o := range os {
		out = append(out, ViewOrder(o))
	}
	return map[string]any{"orders": out}, http.StatusOK
}
