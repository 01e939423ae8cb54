package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/simterm"
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

// screenshotDir, when set, is where TestConsoleInBrowser writes a PNG of
// each console page (scripts/console-screenshots.sh: docs/console).
var screenshotDir = flag.String("console.screenshots", "", "write a screenshot of each console page to this directory")

// stagesSeen starts recording, in the page, every stage the screen mirror
// of tid shows from now on: a stage that lasts a moment is not missed.
const stagesSeen = `(() => {
  window.stagesSeen = [];
  new MutationObserver(() => {
    const s = document.querySelector("#screen-%[1]s .screen-stage");
    if (s && window.stagesSeen[window.stagesSeen.length - 1] !== s.textContent) window.stagesSeen.push(s.textContent);
  }).observe(document.querySelector("main"), {childList: true, subtree: true});
  return true;
})()`

// An operator logs in with their own credential and, without reloading:
// watches a terminal come online; watches its screen mirrored through a
// sale and a reversal made through the API; sees a new order appear in the
// list and the order's timeline grow with the reversal. They replay a
// failed notification and approve a refund with the buttons, both then
// in the timeline under their name; a tampered CSRF token and a request
// after the session is gone are refused. With -console.screenshots each
// page is captured on the way.
func TestConsoleInBrowser(t *testing.T) {
	browserCtx := browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancel()
	// The merchant's endpoint is down: every notification fails once, and
	// its retry is an hour away.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	g := start(t, func(c *server.Config) {
		c.AllowPrivateNotify, c.NotifyDelays = true, []time.Duration{time.Hour}
	})
	secret := g.addTerminal("Shop A", "T1", "")
	g.addTerminal("Shop A", "T2", "")
	_, err := payment.AddCashier(context.Background(), g.G.Store, g.G.Sealer,
		payment.NewCashier{Merchant: "Shop A", UID: "C1", Secret: secretFor("cashier-C1"), RefundAuthority: posgate.RefundApproval}, g.Clock.Now())
	require.NoError(t, err)
	aliceSecret, err := g.G.Service.AddOperator(context.Background(), "alice")
	require.NoError(t, err)
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		if *screenshotDir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(*screenshotDir, name+".png"), png, 0o644))
	}
	// waitText waits until the text of sel matches re: live parts are
	// swapped in whole, so a read between two swaps could find nothing.
	waitText := func(ctx context.Context, sel, re string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && new RegExp(%q, "s").test(e.textContent); })()`, sel, re)
		if err := chromedp.Do(pctx, chromedp.Poll[chromedp.Void](js)); err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
			t.Fatalf("%s never matched %s: %v; it reads %q", sel, re, err, got)
		}
	}
	// The script marks the page once its event stream is open: from then
	// on, no change is missed.
	liveOpen := chromedp.WaitReady(chromedp.CSS(`body[data-live="open"]`))
	sale := func(notifyURL string) sdk.Order {
		d := saleData("T1", "12.50")
		d["notify_url"] = notifyURL
		r := call(t, g.client("T1", secret), "v3.POS", d)
		require.True(t, r.Status, "sale: %s %s", r.Code, r.Message)
		return orderOf(t, r)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("operator"), "alice"),
	))
	shot(ctx, "login")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), aliceSecret),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("terminals")),
		liveOpen,
	))
	require.Equal(t, "alice", text(ctx, "#operator-name"))
	waitText(ctx, "#term-T1 .status", `^offline$`)
	require.Contains(t, text(ctx, "#simulated-acquirer"), "simulated acquirer")

	// A slow customer: each screen lasts long enough to be seen.
	g.connect("T1", secret, func(c *simterm.Config) { c.CardDelay = 1500 * time.Millisecond })
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#term-T1.online"))), "the row turns online without a reload")
	waitText(ctx, "#term-T1 .status", `^online$`)
	waitText(ctx, "#term-T1 td:nth-child(5)", `^posgate-sim/1$`)
	shot(ctx, "terminals")

	// The screen mirror follows a sale made through the API.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/terminals/T1"),
		chromedp.WaitVisible(chromedp.ID("screen-T1")),
		liveOpen,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(stagesSeen, "T1")),
	))
	first := sale(down.URL + "/notify")
	waitText(ctx, "#screen-T1 .screen-stage", `^waiting for card$`)
	shot(ctx, "terminal")
	waitText(ctx, "#screen-T1 .screen-stage", `^result: approved$`)
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.stagesSeen`))
	require.NoError(t, err)
	require.True(t, isSubsequence([]string{"waiting for card", "result: approved"}, seen), "the mirror showed %q", seen)

	// A second sale appears in the orders list as it is made.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/orders?tid=T1"),
		chromedp.WaitVisible(chromedp.ID("order-"+first.TradeID)),
		liveOpen,
	))
	second := sale("https://merchant.example/notify")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("order-"+second.TradeID))), "the new order's row without a reload")
	waitText(ctx, "#order-"+second.TradeID+" .state", `^paid$`)
	shot(ctx, "orders")

	// The order's timeline, and in a second tab the screen mirror, follow
	// a reversal made through the API.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#order-"+first.TradeID+" a")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
		liveOpen,
	))
	waitText(ctx, "#order-state", `^paid$`)
	waitText(ctx, "#timeline", `v3\.POS request_id=\S+ by T1.*order_created.*sale command \S+ sent to T1.*sale result approved`)
	mirror, closeMirror := chromedp.NewContext(ctx)
	defer closeMirror()
	require.NoError(t, chromedp.Do(mirror,
		chromedp.Navigate(g.URL+"/console/terminals/T1"),
		chromedp.WaitVisible(chromedp.ID("screen-T1")),
		liveOpen,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(stagesSeen, "T1")),
	))
	r := call(t, g.client("T1", secret), "v3.POSReversal", reversal("T1", first.TradeID))
	require.True(t, r.Status, "reversal: %s %s", r.Code, r.Message)
	waitText(ctx, "#order-state", `^cancelled$`) // the facts without a reload
	waitText(ctx, "#timeline", `sale result approved.*v3\.POSReversal request_id=\S+ by T1.*reversal command \S+ sent to T1.*reversal \S+ started.*terminal: reversal_requested.*reversal result approved.*reversal approved`)
	require.NoError(t, chromedp.Do(mirror, chromedp.Poll[chromedp.Void](`window.stagesSeen.includes("result: approved")`)))
	seen, err = chromedp.Run(mirror, chromedp.Evaluate[[]string](`window.stagesSeen`))
	require.NoError(t, err)
	require.True(t, isSubsequence([]string{"reversal requested", "result: approved"}, seen), "the mirror showed %q", seen)
	closeMirror()

	// The first sale's notification failed: replay it with the button.
	var failed []posgate.Notification
	for deadline := time.Now().Add(10 * time.Second); len(failed) == 0; time.Sleep(20 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the notification never failed")
		failed, err = g.G.Service.Notifications(context.Background(), true, 10)
		require.NoError(t, err)
	}
	note := failed[len(failed)-1]
	require.Equal(t, first.TradeID, note.TradeID)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/notifications"),
		chromedp.WaitVisible(chromedp.ID("notification-"+note.ID)),
	))
	shot(ctx, "notifications")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#notification-"+note.ID+" button")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	require.Equal(t, "Notification "+note.ID+" scheduled for delivery again.", text(ctx, "#flash"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ns, err := g.G.Service.Notifications(context.Background(), true, 10)
		require.NoError(t, err)
		if slices.ContainsFunc(ns, func(n posgate.Notification) bool { return n.ID == note.ID && n.Attempts > note.Attempts }) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the replay was never attempted")
	}

	// A refund waits for approval; alice approves it.
	r = call(t, g.client("C1", secretFor("cashier-C1")), "v3.CreateRefund", refundData(second.TradeID, "2.50"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	ref := refundOf(t, r)
	require.Equal(t, "to-be-approval", ref.State)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/refunds"),
		chromedp.WaitVisible(chromedp.ID("refund-"+ref.RefundID)),
	))
	shot(ctx, "refunds")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#refund-"+ref.RefundID+" button.approve")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	require.Equal(t, "Refund "+ref.RefundID+" approved: it is now refunded.", text(ctx, "#flash"))
	got, err := g.G.Service.Refunds(context.Background(), second.TradeID)
	require.NoError(t, err)
	require.Equal(t, posgate.RefundRefunded, got[0].State)

	// Both actions are in their orders' timelines under alice's name.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(g.URL+"/console/orders/"+first.TradeID), chromedp.WaitVisible(chromedp.ID("timeline"))))
	waitText(ctx, "#timeline", "operator alice replayed notification "+note.ID)
	shot(ctx, "order")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(g.URL+"/console/orders/"+second.TradeID), chromedp.WaitVisible(chromedp.ID("timeline"))))
	waitText(ctx, "#timeline", "operator alice approved refund "+ref.RefundID)

	// A form whose CSRF token was tampered with is refused, and so is one
	// sent after the session is gone.
	r = call(t, g.client("C1", secretFor("cashier-C1")), "v3.CreateRefund", refundData(second.TradeID, "1.00"))
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	pending := refundOf(t, r)
	approve := "#refund-" + pending.RefundID + " form:first-child"
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/refunds"),
		chromedp.WaitVisible(chromedp.ID("refund-"+pending.RefundID)),
		chromedp.SetAttributeValue(chromedp.CSS(approve+` input[name="csrf"]`), "value", "forged"),
	))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(approve+" button")))
	require.NoError(t, err)
	require.Equal(t, int64(http.StatusForbidden), resp.Status, "a forged CSRF token")
	require.Contains(t, text(ctx, "body"), "invalid or missing CSRF token")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/refunds"),
		chromedp.WaitVisible(chromedp.ID("refund-"+pending.RefundID)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
	))
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(approve+" button")))
	require.NoError(t, err)
	require.Equal(t, int64(http.StatusUnauthorized), resp.Status, "no session")
	require.Contains(t, text(ctx, "body"), "log in first")
	got, err = g.G.Service.Refunds(context.Background(), second.TradeID)
	require.NoError(t, err)
	require.Equal(t, posgate.RefundToBeApproved, got[1].State, "neither refused request approved it")
}
