package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
)

// crashAfterApproval starts a terminal on a journal that crashes right
// after it approved the next sale, before the cloud sees the result, and
// returns its configuration (without the fault) for the restart.
func crashAfterApproval(t *testing.T, g *gateway, secret string) (simterm.Config, <-chan error) {
	t.Helper()
	cfg := simterm.Config{Server: g.URL, TID: "T1", Secret: secret, AutoTap: true, CardDelay: time.Millisecond,
		JournalPath: filepath.Join(t.TempDir(), "journal.jsonl"), Now: g.Clock.Now, Faults: simterm.Faults{CrashBeforeResult: true}}
	first, err := simterm.New(cfg)
	require.NoError(t, err)
	crashed := make(chan error, 1)
	go func() { crashed <- first.Run(context.Background()) }()
	g.waitOnline("T1", true)
	cfg.Faults = simterm.Faults{}
	return cfg, crashed
}

func waitCrashed(t *testing.T, crashed <-chan error) {
	t.Helper()
	select {
	case err := <-crashed:
		require.True(t, errors.Is(err, simterm.ErrCrashed), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not crash")
	}
}

// The terminal approves and goes away before reporting; its order's card
// time ends while it is away. The order waits for the terminal's report
// instead of expiring, and is paid when the terminal comes back.
func TestApprovalReportedAfterTheCardTimeIsApplied(t *testing.T) {
	g := start(t, func(c *server.Config) { c.SaleTimeout = 300 * time.Millisecond })
	secret := g.addTerminal("Shop A", "T1", "")
	cfg, crashed := crashAfterApproval(t, g, secret)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	waitCrashed(t, crashed)
	g.waitOnline("T1", false)

	// Well past the card time, and past a run of the expiry loop (every
	// second): the order is still waiting for its terminal.
	g.Clock.Set(g.Clock.Now().Add(5 * time.Minute))
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, "processing", queryOrder(t, till, o.TradeID).State, "an order whose terminal may have charged the card does not expire on a timer")

	g.connect("T1", secret, func(c *simterm.Config) { *c = cfg })
	paid := waitState(t, till, o.TradeID, "paid")
	require.NotEmpty(t, paid.TransactionID)
	require.Empty(t, paid.Reconciliation)
}

// The terminal stays away past the reconciliation deadline: the order
// expires. When the terminal then reports its approval, the approval is
// reversed on the terminal, and the order says so.
func TestApprovalAfterTheDeadlineIsReversed(t *testing.T) {
	g := start(t, func(c *server.Config) {
		c.SaleTimeout = 300 * time.Millisecond
		c.ReconcileAfter = 300 * time.Millisecond
	})
	secret := g.addTerminal("Shop A", "T1", "")
	cfg, crashed := crashAfterApproval(t, g, secret)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	waitCrashed(t, crashed)
	expired := waitState(t, till, o.TradeID, "expired")
	require.Empty(t, expired.TransactionID)

	second := g.connect("T1", secret, func(c *simterm.Config) { *c = cfg })
	reversed := waitReconciliation(t, g, o.TradeID, "late_approval_reversed")
	require.Equal(t, "expired", reversed.State, "the merchant was told expired; that stays true")
	require.NotEmpty(t, reversed.TransactionID, "the late approval's reference is kept for reconciliation")
	require.Equal(t, 0, second.Executed("sale"), "the approval came from the journal")
	require.Equal(t, 1, second.Executed("reversal"))
	resp, err := http.Get(g.URL + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(metrics), `posgate_late_approvals_total{reconciliation="late_approval_reversed"} 1`)

	// The terminal is free again.
	r = call(t, till, "v3.POS", saleData("T1", "3.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
}

// A silent cancel wins while the acquirer is still authorising: the
// approval that follows is reversed.
func TestApprovalAfterSilentCancelIsReversed(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	cashier := g.addCashier("Shop A", "016683")
	term := g.connect("T1", secret)
	sc := watch(t, term)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "1.08")) // the acquirer takes 3 s
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	sc.waitFor(t, simterm.ScreenAuthorising)
	r = call(t, g.client("016683", cashier), "v3.CancelPayment", map[string]string{"trade_id": o.TradeID})
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)

	reversed := waitReconciliation(t, g, o.TradeID, "late_approval_reversed")
	require.Equal(t, "cancelled", reversed.State)
	require.Equal(t, 1, term.Executed("reversal"))
}

// waitReconciliation polls QueryOrder until the order's reconciliation is
// want.
func waitReconciliation(t *testing.T, g *gateway, tradeID, want string) (info struct {
	State, TransactionID, Reconciliation string
}) {
	t.Helper()
	c := g.client("T1", secretFor("T1"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		q := queryOrder(t, c, tradeID)
		if q.Reconciliation == want {
			info.State, info.TransactionID, info.Reconciliation = q.State, q.TransactionID, q.Reconciliation
			return info
		}
		require.True(t, time.Now().Before(deadline), "reconciliation %q never reached: %+v", want, q)
		time.Sleep(10 * time.Millisecond)
	}
}
