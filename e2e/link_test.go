package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/posgate/posgate/simterm"
	"github.com/stretchr/testify/require"
)

// A terminal executes a sale, journals the approval and crashes before the
// cloud sees the result. A new terminal process on the same journal
// reconnects and reports it: the order is paid once, and the card is not
// charged again.
func TestCrashBeforeResultIsAppliedOnceAfterRestart(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	cfg := simterm.Config{Server: g.URL, TID: "T1", Secret: secret, AutoTap: true, CardDelay: time.Millisecond, JournalPath: journal, Now: g.Clock.Now,
		Faults: simterm.Faults{CrashBeforeResult: true}}
	first, err := simterm.New(cfg)
	require.NoError(t, err)
	crashed := make(chan error, 1)
	go func() { crashed <- first.Run(context.Background()) }()
	g.waitOnline("T1", true)

	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "12.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	select {
	case err := <-crashed:
		require.True(t, errors.Is(err, simterm.ErrCrashed), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not crash")
	}
	require.Equal(t, 1, first.Executed("sale"))
	g.waitOnline("T1", false)
	require.Equal(t, "processing", waitState(t, till, o.TradeID, "processing").State, "the cloud has not seen the result")

	cfg.Faults = simterm.Faults{}
	second := g.connect("T1", secret, func(c *simterm.Config) { *c = cfg })
	waitState(t, till, o.TradeID, "paid")
	require.Equal(t, 0, second.Executed("sale"), "the result came from the journal, the card was charged once")

	// The terminal is free for the next command: the result was applied.
	r = call(t, till, "v3.POS", saleData("T1", "3.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
}

// The link drops right after a command arrives; the cloud sends it again
// on reconnect and the terminal executes it once.
func TestDropAfterReceiveIsResentAndExecutedOnce(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	till := g.client("T1", secret)
	o := paidSale(t, g, till, "T1")
	term.SetFaults(simterm.Faults{DropAfterReceive: true})
	r := call(t, till, "v3.POSReversal", reversal("T1", o.TradeID))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	require.Equal(t, "cancelled", orderOf(t, r).State)
	require.Equal(t, 1, term.Executed("reversal"))
	require.False(t, term.Faults().DropAfterReceive, "the fault fired")
}

// A terminal that goes silent is seen offline within two heartbeats, and
// the API refuses at once rather than queueing.
func TestSilentTerminalGoesOffline(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	term := g.connect("T1", secret)
	term.SetFaults(simterm.Faults{Silent: true})
	g.waitOnline("T1", false)
	r := call(t, g.client("T1", secret), "v3.POS", saleData("T1", "12.50"))
	require.Equal(t, "-4201", string(r.Code))
}
