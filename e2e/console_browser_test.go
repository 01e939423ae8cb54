package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
)

// browser starts headless Chromium (Debian's chromium package) with a
// fresh profile. Without it the test skips, except in CI, where .ci/run
// installs it and its absence is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipped outside CI")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first call binds the browser's life to its context: one without
	// a timeout, so that each step below can have its own.
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// An operator logs in, watches a terminal come online without reloading,
// finds the order of a sale made through the API and its timeline, and
// approves a refund with the button.
func TestConsoleInBrowser(t *testing.T) {
	browserCtx := browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	_, err := payment.AddCashier(context.Background(), g.G.Store, g.G.Sealer,
		payment.NewCashier{Merchant: "Shop A", UID: "C1", Secret: secretFor("cashier-C1"), RefundAuthority: posgate.RefundApproval}, g.Clock.Now())
	require.NoError(t, err)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "test-admin-token"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("terminals")),
		// The script marks the page once its event stream is open: from
		// then on, no change is missed.
		chromedp.WaitReady(chromedp.CSS(`body[data-live="open"]`)),
	))
	require.Equal(t, "offline", text("#term-T1 .status"))
	require.Contains(t, text("#simulated-acquirer"), "simulated acquirer")

	g.connect("T1", secret)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#term-T1.online"))), "the row turns online without a reload")
	require.Equal(t, "online", text("#term-T1 .status"))
	require.Equal(t, "posgate-sim/1", text("#term-T1 td:nth-child(5)"))

	till := g.client("T1", secret)
	sale := paidSale(t, g, till, "T1")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/orders?tid=T1"),
		chromedp.WaitVisible(chromedp.ID("order-"+sale.TradeID)),
	))
	require.Equal(t, "paid", text("#order-"+sale.TradeID+" .state"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#order-"+sale.TradeID+" a")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	))
	require.Regexp(t, `(?s)v3\.POS request_id=\S+ by T1.*order_created.*sale command \S+ sent to T1.*sale result approved`, text("#timeline"))

	cashier := g.client("C1", secretFor("cashier-C1"))
	r := call(t, cashier, "v3.CreateRefund", refundData(sale.TradeID, "2.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	ref := refundOf(t, r)
	require.Equal(t, "to-be-approval", ref.State)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/refunds"),
		chromedp.WaitVisible(chromedp.ID("refund-"+ref.RefundID)),
		chromedp.Click(chromedp.CSS("#refund-"+ref.RefundID+" button.approve")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	require.Equal(t, "Refund "+ref.RefundID+" approved: it is now refunded.", text("#flash"))
	got, err := g.G.Service.Refunds(context.Background(), sale.TradeID)
	require.NoError(t, err)
	require.Equal(t, posgate.RefundRefunded, got[0].State)
}
