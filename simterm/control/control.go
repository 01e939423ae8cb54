// Package control is the local HTTP API that drives a simulated terminal
// (package simterm) from a program: what the customer and the operator do
// with the next commands or with every command, keys pressed now, a
// dropped link and the terminal's faults. It lets a merchant's own CI run
// every outcome against posgate serve plus headless terminals. Its
// listener is limited to loopback unless the caller allows otherwise
// (Listen); docs/simulator.md describes the API.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/posgate/posgate/simterm"
)

// maxBody bounds a request's body; an action is a few dozen bytes.
const maxBody = 4 << 10

// Listen opens the control API's listener on addr. Anyone who reaches it
// can drive the terminal, so an address that is not loopback is refused
// unless allowRemote.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control address %q: want host:port, e.g. 127.0.0.1:8091", addr)
	}
	if !allowRemote && !loopback(host) {
		return nil, fmt.Errorf("control address %q is not loopback: anyone who reaches it drives the terminal (allow it explicitly to listen there)", addr)
	}
	return net.Listen("tcp", addr)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Terminal is what the API drives: a *simterm.Terminal.
type Terminal interface {
	Current() simterm.Screen
	Queue(simterm.Action) error
	ClearQueue()
	SetStanding(*simterm.Action) error
	Script() ([]simterm.Action, *simterm.Action)
	Tap() bool
	Decline() bool
	Cancel() bool
	DropLink() bool
	Faults() simterm.Faults
	SetFaults(simterm.Faults)
	Executed(kind string) int
}

// Handler serves the API for t. Requests a browser makes from another
// site are refused (http.CrossOriginProtection): a web page must not be
// able to drive a terminal on the developer's machine.
func Handler(tid string, t Terminal) http.Handler {
	a := &api{tid: tid, t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", a.state)
	mux.HandleFunc("POST /v1/next", a.queue)
	mux.HandleFunc("DELETE /v1/next", a.clearQueue)
	mux.HandleFunc("PUT /v1/behaviour", a.setStanding)
	mux.HandleFunc("DELETE /v1/behaviour", a.clearStanding)
	mux.HandleFunc("POST /v1/tap", a.key(t.Tap))
	mux.HandleFunc("POST /v1/decline", a.key(t.Decline))
	mux.HandleFunc("POST /v1/cancel", a.key(t.Cancel))
	mux.HandleFunc("POST /v1/link/drop", a.drop)
	mux.HandleFunc("PUT /v1/faults", a.setFaults)
	return http.NewCrossOriginProtection().Handler(mux)
}

type api struct {
	tid string
	t   Terminal
}

// State is the answer of every request that succeeds.
type State struct {
	TID    string           `json:"tid"`
	Screen Screen           `json:"screen"`
	Next   []simterm.Action `json:"next"`
	// Behaviour is the standing action; null is the default (auto-tap,
	// magic amounts).
	Behaviour *simterm.Action `json:"behaviour"`
	Faults    Faults          `json:"faults"`
	// Acquirer counts the simulated acquirer's operations by kind (sale,
	// authorisation, reversal) since the terminal started.
	Acquirer map[string]int `json:"acquirer"`
}

// Screen is simterm.Screen as JSON.
type Screen struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind,omitempty"`
	CommandID string   `json:"command_id,omitempty"`
	TradeID   string   `json:"trade_id,omitempty"`
	Amount    string   `json:"amount,omitempty"`
	Currency  string   `json:"currency,omitempty"`
	Message   string   `json:"message,omitempty"`
	Lines     []string `json:"lines"`
	Online    bool     `json:"online"`
}

// Faults is simterm.Faults as JSON; a one-shot fault that fired reads
// false.
type Faults struct {
	DropAfterReceive  bool  `json:"drop_after_receive"`
	CrashBeforeResult bool  `json:"crash_before_result"`
	CrashBeforeAnswer bool  `json:"crash_before_answer"`
	ResultDelayMS     int64 `json:"result_delay_ms"`
	Silent            bool  `json:"silent"`
}

// maxResultDelay bounds result_delay_ms.
const maxResultDelay = 10 * time.Minute

func (a *api) snapshot() State {
	s := a.t.Current()
	next, standing := a.t.Script()
	if next == nil {
		next = []simterm.Action{}
	}
	f := a.t.Faults()
	acq := map[string]int{}
	for _, k := range []string{"sale", "authorisation", "reversal"} {
		acq[k] = a.t.Executed(k)
	}
	return State{
		TID: a.tid,
		Screen: Screen{Name: s.Name, Kind: s.Kind, CommandID: s.CommandID, TradeID: s.TradeID, Amount: s.Amount,
			Currency: s.Currency, Message: s.Message, Lines: append([]string{}, s.Lines...), Online: s.Online},
		Next: next, Behaviour: standing,
		Faults: Faults{DropAfterReceive: f.DropAfterReceive, CrashBeforeResult: f.CrashBeforeResult,
			CrashBeforeAnswer: f.CrashBeforeAnswer, ResultDelayMS: f.ResultDelay.Milliseconds(), Silent: f.Silent},
		Acquirer: acq,
	}
}

func (a *api) state(w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, a.snapshot()) }

func (a *api) queue(w http.ResponseWriter, r *http.Request) {
	act, ok := readAction(w, r)
	if !ok {
		return
	}
	if err := a.t.Queue(act); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, simterm.ErrQueueFull) {
			code = http.StatusConflict
		}
		fail(w, code, strings.TrimPrefix(err.Error(), "simterm: "))
		return
	}
	reply(w, http.StatusOK, a.snapshot())
}

func (a *api) clearQueue(w http.ResponseWriter, _ *http.Request) {
	a.t.ClearQueue()
	reply(w, http.StatusOK, a.snapshot())
}

func (a *api) setStanding(w http.ResponseWriter, r *http.Request) {
	act, ok := readAction(w, r)
	if !ok {
		return
	}
	if err := a.t.SetStanding(&act); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	reply(w, http.StatusOK, a.snapshot())
}

func (a *api) clearStanding(w http.ResponseWriter, _ *http.Request) {
	a.t.SetStanding(nil)
	reply(w, http.StatusOK, a.snapshot())
}

// key presses a key now, for the command on screen.
func (a *api) key(press func() bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if !press() {
			fail(w, http.StatusConflict, "no command on screen")
			return
		}
		reply(w, http.StatusOK, a.snapshot())
	}
}

func (a *api) drop(w http.ResponseWriter, _ *http.Request) {
	if !a.t.DropLink() {
		fail(w, http.StatusConflict, "not connected")
		return
	}
	reply(w, http.StatusOK, a.snapshot())
}

func (a *api) setFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !readJSON(w, r, &f) {
		return
	}
	if f.ResultDelayMS < 0 || time.Duration(f.ResultDelayMS)*time.Millisecond > maxResultDelay {
		fail(w, http.StatusBadRequest, fmt.Sprintf("result_delay_ms %d: want 0 to %d", f.ResultDelayMS, maxResultDelay.Milliseconds()))
		return
	}
	a.t.SetFaults(simterm.Faults{DropAfterReceive: f.DropAfterReceive, CrashBeforeResult: f.CrashBeforeResult,
		CrashBeforeAnswer: f.CrashBeforeAnswer, ResultDelay: time.Duration(f.ResultDelayMS) * time.Millisecond, Silent: f.Silent})
	reply(w, http.StatusOK, a.snapshot())
}

// ParseAction decodes one action strictly: a single JSON object, no
// unknown field, valid values.
func ParseAction(body []byte) (simterm.Action, error) {
	var act simterm.Action
	if err := decodeStrict(body, &act); err != nil {
		return act, err
	}
	return act, act.Check()
}

func readAction(w http.ResponseWriter, r *http.Request) (simterm.Action, bool) {
	body, ok := readBody(w, r)
	if !ok {
		return simterm.Action{}, false
	}
	act, err := ParseAction(body)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return act, false
	}
	return act, true
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	if err := decodeStrict(body, v); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody))
		return nil, false
	}
	return body, true
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: one JSON object only")
	}
	return nil
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]string{"error": msg})
}
