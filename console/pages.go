package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posgate/posgate"
)

// terminalRow is a terminal as the console shows it.
type terminalRow struct {
	TID          string
	Online       bool
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
	out := make([]terminalRow, 0, len(ts))
	for _, t := range ts {
		st := c.link.Status(t.TID)
		row := terminalRow{TID: t.TID, Online: st.Online, LastSeen: st.LastSeen, OfflineSince: st.OfflineSince, Client: st.Client, InFlight: t.InFlight}
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

// events streams the fragments of terminals that change: each event is
// the terminal's list row and its screen, rendered as on the pages, for
// the script to swap in by element id.
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
	if !write(": stream open\n\n") {
		return
	}
	keepalive := time.NewTicker(20 * time.Second)
	defer keepalive.Stop()
	tmpl := c.pages["terminals"]
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case <-keepalive.C:
			if !write(": keepalive\n\n") {
				return
			}
		case <-sub.signal:
			for _, tid := range c.feed.take(sub) {
				rows, err := c.terminalRows(r, tid)
				if err != nil {
					c.log.Warn("console: terminal event", "tid", tid, "err", err)
					continue
				}
				for _, part := range []string{"row", "screen"} {
					var b strings.Builder
					if err := tmpl.ExecuteTemplate(&b, part, rows[0]); err != nil {
						c.log.Error("console: render event", "err", err)
						return
					}
					// An event's data is one line per "data:" field.
					data := "data: " + strings.ReplaceAll(b.String(), "\n", "\ndata: ")
					if !write("event: " + part + "\n" + data + "\n\n") {
						return
					}
				}
			}
		}
	}
}

type ordersData struct {
	Query  url.Values
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
	d := ordersData{Query: q, States: states}
	f := posgate.OrderFilter{TID: strings.TrimSpace(q.Get("tid")), State: posgate.State(q.Get("state")), OrderID: strings.TrimSpace(q.Get("order_id")), Limit: 100}
	orders, err := c.svc.Orders(r.Context(), f)
	if err != nil {
		c.fail(w, "orders", err)
		return
	}
	d.Orders = orders
	c.render(w, r, "orders", http.StatusOK, page{Title: "Orders", Nav: "orders", Data: d})
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
