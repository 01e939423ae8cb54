package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
)

// LinkStatus is a terminal's connection as the live link knows it.
type LinkStatus struct {
	Online       bool
	LastSeen     time.Time // the last frame; zero if never seen since start
	OfflineSince time.Time // when the last connection ended; zero while online
	Client       string    // the software named in the terminal's hello
	// Node is the cluster node holding the terminal's connection, "" when
	// offline or outside a cluster.
	Node string
}

type terminalView struct {
	TID          string       `json:"tid"`
	MerchantID   int64        `json:"merchant_id"`
	Online       bool         `json:"online"`
	LastSeenAt   *time.Time   `json:"last_seen_at"`
	OfflineSince *time.Time   `json:"offline_since"`
	Client       string       `json:"client"`
	Node         string       `json:"node,omitempty"`
	Timezone     string       `json:"timezone"`
	Currency     string       `json:"currency"`
	CutoffMin    int          `json:"batch_cutoff_minutes"`
	InFlight     *commandView `json:"command_in_flight"`
	Screen       *screenView  `json:"screen"`
}

type commandView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	TradeID   string    `json:"trade_id"`
	CreatedAt time.Time `json:"created_at"`
}

// screenView is the last stage the terminal reported for its command in
// flight: what its screen shows.
type screenView struct {
	Stage   string    `json:"stage"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *api) viewTerminal(t payment.TerminalState, l LinkStatus) terminalView {
	v := terminalView{
		TID: t.TID, MerchantID: t.MerchantID, Online: l.Online, LastSeenAt: optTime(l.LastSeen), Client: l.Client, Node: l.Node,
		Timezone: t.Timezone, Currency: t.Currency, CutoffMin: t.CutoffMinutes,
	}
	if !l.Online {
		v.OfflineSince = optTime(l.OfflineSince)
	}
	if c := t.InFlight; c != nil {
		v.InFlight = &commandView{ID: c.ID, Kind: string(c.Kind), TradeID: c.TradeID, CreatedAt: c.CreatedAt}
	}
	if e := t.Screen; e != nil {
		v.Screen = &screenView{Stage: string(e.Stage), Message: e.Message, At: e.At}
	}
	return v
}

func (a *api) listTerminals(w http.ResponseWriter, r *http.Request) (any, int) {
	ts, err := a.svc.Terminals(r.Context(), "")
	if err != nil {
		a.log.Error("admin: list terminals", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	links, err := a.links(r, ts)
	if err != nil {
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	out := make([]terminalView, 0, len(ts))
	for _, t := range ts {
		out = append(out, a.viewTerminal(t, links[t.TID]))
	}
	return map[string]any{"terminals": out}, http.StatusOK
}

func (a *api) getTerminal(w http.ResponseWriter, r *http.Request) (any, int) {
	ts, err := a.svc.Terminals(r.Context(), r.PathValue("tid"))
	if errors.Is(err, posgate.ErrNotFound) {
		return map[string]string{"error": "no such terminal"}, http.StatusNotFound
	}
	if err != nil {
		a.log.Error("admin: get terminal", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	links, err := a.links(r, ts)
	if err != nil {
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	return a.viewTerminal(ts[0], links[ts[0].TID]), http.StatusOK
}

// links asks the link about every terminal of ts at once: in a cluster
// that is one database read for the whole list.
func (a *api) links(r *http.Request, ts []payment.TerminalState) (map[string]LinkStatus, error) {
	tids := make([]string, len(ts))
	for i, t := range ts {
		tids[i] = t.TID
	}
	links, err := a.terms.Links(r.Context(), tids)
	if err != nil {
		a.log.Error("admin: terminal links", "err", err)
	}
	return links, err
}
