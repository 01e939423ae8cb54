package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/posgate/posgate"
)

// terminalRow is a terminal as the console shows it.
type terminalRow struct {
	TID          string
	Online       bool
	Node         string // the cluster node holding it; "" outside a cluster
	LastSeen     time.Time
	OfflineSince time.Time
	Client       string
	InFlight     *posgate.Command
	// Screen is the last stage of the command in flight (or the result
	// that ended it), live from the link when it has seen one.
	Screen *posgate.Progress
}

func (c *console) terminalRows(r *http.Request, tid string) ([]terminalRow, error) {
	ts, err := c.svc.Terminals(r.Context(), tid)
	if err != nil {
		return nil, err
	}
	tids := make([]string, len(ts))
	for i, t := range ts {
		tids[i] = t.TID
	}
	links, err := c.link.Links(r.Context(), tids)
	if err != nil {
		return nil, err
	}
	out := make([]terminalRow, 0, len(ts))
	for _, t := range ts {
		st := links[t.TID]
		row := terminalRow{TID: t.TID, Online: st.Online, Node: st.Node, LastSeen: st.LastSeen, OfflineSince: st.OfflineSince, Client: st.Client, InFlight: t.InFlight}
		live, seen := c.feed.screen(t.TID)
		switch {
		case seen && (t.InFlight == nil || live.CommandID == t.InFlight.ID):
			row.Screen = &live
		case t.Screen != nil:
			row.Screen = &posgate.Progress{CommandID: t.Screen.CommandID, Stage: t.Screen.Stage, Message: t.Screen.Message}
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *console) terminalsPage(w http.ResponseWriter, r *http.Request) {
	rows, err := c.terminalRows(r, "")
	if err != nil {
		c.fail(w, "terminals", err)
		return
	}
	c.render(w, r, "terminals", http.StatusOK, page{Title: "Terminals", Nav: "terminals", Data: rows})
}

func (c *console) terminalPage(w http.ResponseWriter, r *http.Request) {
	rows, err := c.terminalRows(r, r.PathValue("tid"))
	if err != nil {
		c.fail(w, "terminal", err)
		return
	}
	c.render(w, r, "terminal", http.StatusOK, page{Title: "Terminal " + rows[0].TID, Nav: "terminals", Data: rows[0]})
}

// events streams, as they change, the fragments a live page shows,
// rendered by the page's own templates, for the script to swap in by
// element id:
//   - /console/events: each changed terminal's list row and screen;
//   - ?order=TRADE_ID: the order's facts and timeline;
//   - ?orders=1 with the list's filters: the orders list's rows.
func (c *console) events(w http.ResponseWriter, r *http.Request) {
	sub, stop := c.feed.subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	// The server's write timeout bounds answers, not a stream that lives
	// for hours: each write gets its own deadline instead.
	write := func(s string) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// event renders part of tmpl with data as one event.
	event := func(tmpl *template.Template, part string, data any) bool {
		var b strings.Builder
		if err := tmpl.ExecuteTemplate(&b, part, data); err != nil {
			c.log.Error("console: render event", "part", part, "err", err)
			return false
		}
		// An event's data is one line per "data:" field.
		return write("event: " + part + "\ndata: " + strings.ReplaceAll(b.String(), "\n", "\ndata: ") + "\n\n")
	}
	send := c.terminalEvents(r, event)
	// gap spaces the list's refreshes: on a busy gateway an order changes
	// all the time, and each refresh is a query.
	var gap time.Duration
	q := r.URL.Query()
	switch {
	case q.Has("order"):
		send = c.orderEvents(r, q.Get("order"), event)
	case q.Has("orders"):
		send, gap = c.ordersEvents(r, ordersFilter(q), event), ordersRefreshGap
	}
	if !write(": stream open\n\n") {
		return
	}
	keepalive := time.NewTicker(20 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case <-keepalive.C:
			// A removed operator's stream ends within a keepalive.
			if by := operatorOf(r); by != posgate.AdminOperator {
				if exists, err := c.svc.OperatorExists(r.Context(), by); err != nil || !exists {
					return
				}
			}
			if !write(": keepalive\n\n") {
				return
			}
		case <-sub.signal:
			if !send(c.feed.take(sub)) {
				return
			}
			if gap > 0 {
				// Changes meanwhile stay marked in sub, sent after the gap.
				select {
				case <-time.After(gap):
				case <-r.Context().Done():
					return
				case <-sub.done:
					return
				}
			}
		}
	}
}

// ordersRefreshGap is the least time between two refreshes of a live
// orders list.
const ordersRefreshGap = time.Second

// eventFunc writes one event; false when the stream is broken.
type eventFunc func(tmpl *template.Template, part string, data any) bool

// terminalEvents sends each changed terminal's row and screen.
func (c *console) terminalEvents(r *http.Request, event eventFunc) func(tids, _ []string) bool {
	tmpl := c.pages["terminals"]
	return func(tids, _ []string) bool {
		for _, tid := range tids {
			rows, err := c.terminalRows(r, tid)
			if err != nil {
				c.log.Warn("console: terminal event", "tid", tid, "err", err)
				continue
			}
			if !event(tmpl, "row", rows[0]) || !event(tmpl, "screen", rows[0]) {
				return false
			}
		}
		return true
	}
}

// orderEvents sends the order's facts and timeline when its history was
// written.
func (c *console) orderEvents(r *http.Request, tradeID string, event eventFunc) func(_, tradeIDs []string) bool {
	tmpl := c.pages["order"]
	return func(_, tradeIDs []string) bool {
		if !slices.Contains(tradeIDs, tradeID) {
			return true
		}
		tl, err := c.svc.Timeline(r.Context(), tradeID)
		if err != nil {
			c.log.Warn("console: order event", "trade_id", tradeID, "err", err)
			return true
		}
		return event(tmpl, "facts", tl) && event(tmpl, "timeline", tl)
	}
}

// ordersEvents sends the list's rows again when any order changed: the
// list is one query of at most a page, and a new order may belong in it.
func (c *console) ordersEvents(r *http.Request, f posgate.OrderFilter, event eventFunc) func(_, tradeIDs []string) bool {
	tmpl := c.pages["orders"]
	return func(_, tradeIDs []string) bool {
		if len(tradeIDs) == 0 {
			return true
		}
		orders, err := c.svc.Orders(r.Context(), f)
		if err != nil {
			c.log.Warn("console: orders event", "err", err)
			return true
		}
		return event(tmpl, "orderrows", orders)
	}
}

type ordersData struct {
	Query url.Values
	// Live is the event stream of this list, its filters included.
	Live   string
	States []posgate.State
	Orders []posgate.Order
	Error  string
}

var states = []posgate.State{posgate.StatePending, posgate.StateProcessing, posgate.StatePaid, posgate.StateAuthorized,
	posgate.StateDeclined, posgate.StateFailed, posgate.StateExpired, posgate.StateCancelled}

func (c *console) ordersPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if id := strings.TrimSpace(q.Get("trade_id")); id != "" {
		http.Redirect(w, r, "/console/orders/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	f := ordersFilter(q)
	live := url.Values{"orders": {"1"}, "tid": {f.TID}, "state": {string(f.State)}, "order_id": {f.OrderID}}
	d := ordersData{Query: q, States: states, Live: "/console/events?" + live.Encode()}
	orders, err := c.svc.Orders(r.Context(), f)
	if err != nil {
		c.fail(w, "orders", err)
		return
	}
	d.Orders = orders
	c.render(w, r, "orders", http.StatusOK, page{Title: "Orders", Nav: "orders", Data: d})
}

// ordersFilter is the orders list's search, newest first, one page.
func ordersFilter(q url.Values) posgate.OrderFilter {
	return posgate.OrderFilter{TID: strings.TrimSpace(q.Get("tid")), State: posgate.State(q.Get("state")), OrderID: strings.TrimSpace(q.Get("order_id")), Limit: 100}
}

func (c *console) orderPage(w http.ResponseWriter, r *http.Request) {
	tl, err := c.svc.Timeline(r.Context(), r.PathValue("trade_id"))
	if err != nil {
		c.fail(w, "order", err)
		return
	}
	c.render(w, r, "order", http.StatusOK, page{Title: "Order " + tl.Order.TradeID, Nav: "orders", Data: tl})
}

func (c *console) notificationsPage(w http.ResponseWriter, r *http.Request) {
	ns, err := c.svc.Notifications(r.Context(), true, 200)
	if err != nil {
		c.fail(w, "notifications", err)
		return
	}
	c.render(w, r, "notifications", http.StatusOK, page{Title: "Failed notifications", Nav: "notifications", Data: ns})
}

func (c *console) replay(w http.ResponseWriter, r *http.Request) {
	by := operatorOf(r)
	n, err := c.svc.ReplayNotification(r.Context(), by, r.PathValue("id"))
	if err != nil {
		c.fail(w, "replay", err)
		return
	}
	c.log.Info("console: notification replayed", "id", n.ID, "trade_id", n.TradeID, "operator", by, "remote", r.RemoteAddr)
	done(w, r, "/console/notifications", "Notification "+n.ID+" scheduled for delivery again.")
}

func (c *console) refundsPage(w http.ResponseWriter, r *http.Request) {
	rs, err := c.svc.RefundsAwaitingApproval(r.Context(), 200)
	if err != nil {
		c.fail(w, "refunds", err)
		return
	}
	c.render(w, r, "refunds", http.StatusOK, page{Title: "Refunds awaiting approval", Nav: "refunds", Data: rs})
}

func (c *console) approve(w http.ResponseWriter, r *http.Request) {
	c.decide(w, r, "approved", func(id string) (posgate.Refund, error) { return c.svc.ApproveRefund(r.Context(), operatorOf(r), id) })
}

func (c *console) reject(w http.ResponseWriter, r *http.Request) {
	c.decide(w, r, "rejected", func(id string) (posgate.Refund, error) {
		return c.svc.RejectRefund(r.Context(), operatorOf(r), id, "rejected by operator "+operatorOf(r))
	})
}

func (c *console) decide(w http.ResponseWriter, r *http.Request, verb string, act func(string) (posgate.Refund, error)) {
	id := r.PathValue("id")
	ref, err := act(id)
	switch {
	case errors.Is(err, posgate.ErrInvalid):
		done(w, r, "/console/refunds", "Refund "+id+" was not waiting for approval: it is "+string(ref.State)+".")
		return
	case err != nil:
		c.fail(w, "refund "+verb, err)
		return
	}
	c.log.Info("console: refund "+verb, "refund_id", id, "trade_id", ref.TradeID, "state", ref.State, "operator", operatorOf(r), "remote", r.RemoteAddr)
	done(w, r, "/console/refunds", "Refund "+id+" "+verb+": it is now "+string(ref.State)+".")
}

// done sends the browser back to a page with a message (post, redirect,
// get: a reload does not repeat the action).
func done(w http.ResponseWriter, r *http.Request, to, msg string) {
	http.Redirect(w, r, to+"?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}
