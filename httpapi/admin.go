package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
)

type terminalView struct {
	TID        string       `json:"tid"`
	MerchantID int64        `json:"merchant_id"`
	Online     bool         `json:"online"`
	LastSeen   *time.Time   `json:"last_seen"`
	Timezone   string       `json:"timezone"`
	Currency   string       `json:"currency"`
	CutoffMin  int          `json:"batch_cutoff_minutes"`
	InFlight   *commandView `json:"command_in_flight"`
}

type commandView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	TradeID   string    `json:"trade_id"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *api) viewTerminal(t payment.TerminalState) terminalView {
	v := terminalView{
		TID: t.TID, MerchantID: t.MerchantID, Online: a.terms.Online(t.TID),
		Timezone: t.Timezone, Currency: t.Currency, CutoffMin: t.CutoffMinutes,
	}
	if ls := a.terms.LastSeen(t.TID); !ls.IsZero() {
		ls = ls.UTC()
		v.LastSeen = &ls
	}
	if c := t.InFlight; c != nil {
		v.InFlight = &commandView{ID: c.ID, Kind: string(c.Kind), TradeID: c.TradeID, CreatedAt: c.CreatedAt}
	}
	return v
}

func (a *api) listTerminals(w http.ResponseWriter, r *http.Request) (any, int) {
	ts, err := a.svc.Terminals(r.Context(), "")
	if err != nil {
		a.log.Error("admin: list terminals", "err", err)
		return map[string]string{"error": "internal error"}, http.StatusInternalServerError
	}
	out := make([]terminalView, 0, len(ts))
	for _, t := range ts {
		out = append(out, a.viewTerminal(t))
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
	return a.viewTerminal(ts[0]), http.StatusOK
}
