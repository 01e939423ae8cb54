package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
)

// adminGet decodes GET path of the operator API into out.
func (g *gateway) adminGet(t *testing.T, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	return resp.StatusCode
}

type terminalStatus struct {
	Online       bool       `json:"online"`
	LastSeenAt   *time.Time `json:"last_seen_at"`
	OfflineSince *time.Time `json:"offline_since"`
	Client       string     `json:"client"`
	InFlight     *struct {
		ID, Kind string
	} `json:"command_in_flight"`
	Screen *struct {
		Stage string `json:"stage"`
	} `json:"screen"`
}

// A reversal's terminal crashes after the acquirer approved it and before
// it reported; the till gets -4203; the restarted terminal reports from
// its journal. The timeline shows every step in the order it happened, and
// the terminal's status shows the drop and the return.
func TestOrderTimelineOfAReversalReportedLate(t *testing.T) {
	g := start(t, func(c *server.Config) { c.ReversalWait = 300 * time.Millisecond })
	secret := g.addTerminal("Shop A", "T1", "")
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	cfg := simterm.Config{Server: g.URL, TID: "T1", Secret: secret, AutoTap: true, CardDelay: time.Millisecond, JournalPath: journal, Now: g.Clock.Now}
	first, err := simterm.New(cfg)
	require.NoError(t, err)
	crashed := make(chan error, 1)
	go func() { crashed <- first.Run(context.Background()) }()
	g.waitOnline("T1", true)

	var st terminalStatus
	require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/terminals/T1", &st))
	require.True(t, st.Online)
	require.Equal(t, "posgate-sim/1", st.Client, "the software named in the hello")
	require.NotNil(t, st.LastSeenAt)
	require.Nil(t, st.OfflineSince)

	till := g.client("T1", secret)
	sale := paidSale(t, g, till, "T1")
	first.SetFaults(simterm.Faults{CrashBeforeResult: true})
	r := call(t, till, "v3.POSReversal", reversal("T1", sale.TradeID))
	require.Equal(t, protocol.CodeTerminalTimeout, r.Code, r.Message)
	require.True(t, errors.Is(<-crashed, simterm.ErrCrashed))
	g.waitOnline("T1", false)

	require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/terminals/T1", &st))
	require.False(t, st.Online)
	require.NotNil(t, st.OfflineSince, "offline since the crash")
	require.NotNil(t, st.InFlight, "the reversal is still in flight")
	require.Equal(t, "reversal", st.InFlight.Kind)

	g.connect("T1", secret, func(c *simterm.Config) { *c = cfg })
	waitState(t, till, sale.TradeID, "cancelled")

	want := []string{
		"request v3.POS", "order_created", "command sale", "result approved",
		"request v3.POSReversal", "command reversal", "reversal", "progress reversal_requested", "result approved", "reversal_finished",
	}
	var tl httpapi.OrderTimeline
	// Progress is written in batches behind the results: poll until the
	// last batch is in.
	deadline := time.Now().Add(10 * time.Second)
	for {
		require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/orders/"+sale.TradeID, &tl))
		if isSubsequence(want, steps(tl)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Truef(t, isSubsequence(want, steps(tl)), "timeline %q lacks %q in order", steps(tl), want)
	require.Equal(t, "cancelled", tl.Order.State)
	for i := 1; i < len(tl.Timeline); i++ {
		require.False(t, tl.Timeline[i].At.Before(tl.Timeline[i-1].At), "oldest first")
	}
	var reversalResult httpapi.TimelineEntryView
	for _, e := range tl.Timeline {
		if e.Kind == "result" && e.CommandKind == "reversal" {
			reversalResult = e
		}
		if e.Kind == "request" {
			require.Equal(t, "T1", e.Caller)
			require.NotEmpty(t, e.RequestID)
		}
	}
	require.Equal(t, "approved", reversalResult.Outcome)
	require.False(t, reversalResult.Late, "a reversal's command waits for its result: late for the till, not abandoned")

	require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/terminals/T1", &st))
	require.True(t, st.Online)
	require.Nil(t, st.OfflineSince)
	require.Nil(t, st.InFlight)

	// The console's order page shows the same steps in the same order.
	op := consoleClient(t)
	consoleLogin(t, g, op)
	_, page := fetch(t, op, "GET", g.URL+"/console/orders/"+sale.TradeID, nil)
	var kinds []string
	for _, m := range regexp.MustCompile(`data-kind="([a-z_]+)"`).FindAllStringSubmatch(page, -1) {
		kinds = append(kinds, m[1])
	}
	wantKinds := []string{"request", "order_created", "command", "result", "request", "command", "reversal", "progress", "result", "reversal_finished"}
	require.Truef(t, isSubsequence(wantKinds, kinds), "the page's timeline %q lacks %q in order", kinds, wantKinds)

	// The metrics saw it: two approved commands, each with its round
	// trip, and the terminal connected again.
	require.Equal(t, 1.0, g.metric(t, `posgate_commands_total{kind="sale",outcome="approved"}`))
	require.Equal(t, 1.0, g.metric(t, `posgate_commands_total{kind="reversal",outcome="approved"}`))
	require.Equal(t, 1.0, g.metric(t, `posgate_command_round_trip_seconds_count{kind="reversal"}`))
	require.Equal(t, 0.0, g.metric(t, `posgate_late_results_total{kind="reversal",outcome="approved"}`), "late for the till, not for the cloud")
	require.Equal(t, 1.0, g.metric(t, `posgate_terminals_connected`))

	var missing map[string]string
	require.Equal(t, http.StatusNotFound, g.adminGet(t, "/admin/v1/orders/00000000-0000-0000-0000-000000000000", &missing))
}

// metric is the value of one series on /metrics, written as the text
// format writes it (name{labels}).
func (g *gateway) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no series %s on /metrics", series)
	return 0
}

// steps names each timeline entry with what tells it apart.
func steps(tl httpapi.OrderTimeline) []string {
	var out []string
	for _, e := range tl.Timeline {
		switch e.Kind {
		case "request":
			out = append(out, "request "+e.Method)
		case "command":
			out = append(out, "command "+e.CommandKind)
		case "progress":
			out = append(out, "progress "+e.Stage)
		case "result":
			out = append(out, "result "+e.Outcome)
		default:
			out = append(out, e.Kind)
		}
	}
	return out
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, s := range got {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestOrdersListFilters(t *testing.T) {
	g := start(t)
	s1, s2 := g.addTerminal("Shop A", "T1", ""), g.addTerminal("Shop A", "T2", "")
	g.connect("T1", s1)
	g.connect("T2", s2)
	a := paidSale(t, g, g.client("T1", s1), "T1")
	b := paidSale(t, g, g.client("T2", s2), "T2")
	c := paidSale(t, g, g.client("T1", s1), "T1")

	list := func(query string) []string {
		t.Helper()
		var out struct {
			Orders []httpapi.OrderView `json:"orders"`
		}
		require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/orders"+query, &out))
		var ids []string
		for _, o := range out.Orders {
			ids = append(ids, o.TradeID)
		}
		return ids
	}
	require.Equal(t, []string{c.TradeID, b.TradeID, a.TradeID}, list(""), "newest first")
	require.Equal(t, []string{c.TradeID, a.TradeID}, list("?tid=T1&state=paid"))
	require.Equal(t, []string{b.TradeID}, list("?order_id="+b.OrderID))
	require.Empty(t, list("?state=declined"))
	require.Equal(t, []string{c.TradeID}, list("?limit=1"))
	future := g.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	require.Empty(t, list("?from="+future))
	require.True(t, slices.Contains(list("?to="+future), a.TradeID))

	var bad map[string]string
	require.Equal(t, http.StatusBadRequest, g.adminGet(t, "/admin/v1/orders?state=lost", &bad))
	require.Equal(t, http.StatusBadRequest, g.adminGet(t, "/admin/v1/orders?from=yesterday", &bad))
}
