package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleClient is a browser-like client: cookies kept, redirects not
// followed, so each answer can be checked.
func consoleClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// login logs c in with the admin token and returns the session's CSRF
// token.
func consoleLogin(t *testing.T, g *gateway, c *http.Client) string {
	t.Helper()
	return consoleLoginAs(t, g, c, "", "test-admin-token")
}

// consoleLoginAs logs c in as an operator (none: the admin token).
func consoleLoginAs(t *testing.T, g *gateway, c *http.Client, operator, secret string) string {
	t.Helper()
	_, page := fetch(t, c, "GET", g.URL+"/console/login", nil)
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	resp, _ := fetch(t, c, "POST", g.URL+"/console/login", url.Values{"csrf": {m[1]}, "operator": {operator}, "token": {secret}, "next": {"/console/"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "posgate_console" {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.False(t, session.Secure, "plain HTTP on loopback; Secure under TLS")
	require.NotContains(t, session.Value, secret)
	_, page = fetch(t, c, "GET", g.URL+"/console/", nil)
	m = csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	return m[1]
}

func TestConsoleSecurity(t *testing.T) {
	g := start(t)
	anon := consoleClient(t)

	resp, _ := fetch(t, anon, "GET", g.URL+"/console/orders", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "no session: to the login page")
	require.Equal(t, "/console/login?next=%2Fconsole%2Forders", resp.Header.Get("Location"))
	resp, _ = fetch(t, anon, "GET", g.URL+"/console/events", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = fetch(t, anon, "POST", g.URL+"/console/refunds/x/approve", url.Values{"csrf": {"x"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, page := fetch(t, anon, "GET", g.URL+"/console/login", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "script-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, page, "<script>", "no inline script: the policy would refuse it")
	loginCSRF := csrfField.FindStringSubmatch(page)[1]

	resp, _ = fetch(t, anon, "POST", g.URL+"/console/login", url.Values{"token": {"test-admin-token"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "login without its CSRF token")
	resp, page = fetch(t, anon, "POST", g.URL+"/console/login", url.Values{"csrf": {loginCSRF}, "token": {"wrong"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Wrong operator name or secret")

	op := consoleClient(t)
	csrf := consoleLogin(t, g, op)
	resp, page = fetch(t, op, "GET", g.URL+"/console/refunds", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "simulated acquirer", "the banner: refunds are not real")

	resp, _ = fetch(t, op, "POST", g.URL+"/console/notifications/nope/replay", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	other := consoleClient(t)
	otherCSRF := consoleLogin(t, g, other)
	resp, _ = fetch(t, op, "POST", g.URL+"/console/notifications/nope/replay", url.Values{"csrf": {otherCSRF}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another session's token")
	resp, _ = fetch(t, op, "POST", g.URL+"/console/notifications/nope/replay", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a valid token reaches the action")

	resp, _ = fetch(t, op, "POST", g.URL+"/console/logout", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = fetch(t, op, "GET", g.URL+"/console/", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "logged out")
}

// The terminals stream sends a terminal's row when it comes online.
func TestConsoleTerminalStream(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	op := consoleClient(t)
	consoleLogin(t, g, op)
	// Bounds the read below should the event never come.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", g.URL+"/console/events", nil)
	require.NoError(t, err)
	resp, err := op.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.Equal(t, ": stream open", lines.Text(), "subscribed before the terminal connects")

	g.connect("T1", secret)
	var event []string
	for lines.Scan() && !strings.Contains(strings.Join(event, "\n"), `class="status">online`) {
		event = append(event, lines.Text())
	}
	require.Contains(t, strings.Join(event, "\n"), `id="term-T1" class="online"`)
}
