// Package console is the operator's web console at /console: terminals
// with their live status and screen, orders with their timeline, failed
// notifications to replay and refunds to approve. Pages are rendered on
// the server from embedded html/template files; the live parts arrive
// over Server-Sent Events and a small embedded script swaps them in. No
// build step, nothing fetched from elsewhere.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/payment"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows the console's own script, style and event
// stream and nothing else: no inline script, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Link tells whether terminals are online and, in a cluster, which node
// holds each: the same answer on every node (server's linkStatus, which
// the admin API shows too).
type Link interface {
	Links(ctx context.Context, tids []string) (map[string]httpapi.LinkStatus, error)
}

// Config is the console's configuration.
type Config struct {
	// AdminTokenSHA256 is the hash of the admin token operators log in
	// with; empty disables the console.
	AdminTokenSHA256 []byte
	// SimulatedAcquirer shows a banner: refunds are not real money.
	SimulatedAcquirer bool
	Now               func() time.Time
	Logger            *slog.Logger
}

// Deps are the console's collaborators, all required.
type Deps struct {
	Service *payment.Service
	Link    Link
	Feed    *Feed
}

type console struct {
	cfg      Config
	svc      *payment.Service
	link     Link
	feed     *Feed
	log      *slog.Logger
	sessions sessions
	pages    map[string]*template.Template
}

// New returns the console's handler, to be mounted at /console/.
func New(cfg Config, d Deps) http.Handler {
	if d.Service == nil || d.Link == nil || d.Feed == nil {
		panic("console.New: missing dependency")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &console{cfg: cfg, svc: d.Service, link: d.Link, feed: d.Feed, log: cfg.Logger,
		sessions: newSessions(cfg.AdminTokenSHA256, cfg.Now), pages: map[string]*template.Template{}}
	for _, page := range []string{"login", "terminals", "terminal", "orders", "order", "notifications", "refunds"} {
		c.pages[page] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+page+".html"))
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.authed(c.logout))
	mux.Handle("GET /console/{$}", c.authed(c.terminalsPage))
	mux.Handle("GET /console/terminals/{tid}", c.authed(c.terminalPage))
	mux.Handle("GET /console/events", c.authed(c.events))
	mux.Handle("GET /console/orders", c.authed(c.ordersPage))
	mux.Handle("GET /console/orders/{trade_id}", c.authed(c.orderPage))
	mux.Handle("GET /console/notifications", c.authed(c.notificationsPage))
	mux.Handle("POST /console/notifications/{id}/replay", c.authed(c.replay))
	mux.Handle("GET /console/refunds", c.authed(c.refundsPage))
	mux.Handle("POST /console/refunds/{id}/approve", c.authed(c.approve))
	mux.Handle("POST /console/refunds/{id}/reject", c.authed(c.reject))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

// authed serves h to a request with a valid session of an operator who
// still exists; a POST must also carry the session's CSRF token. Others
// are sent to the login page.
func (c *console) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := c.sessions.session(r)
		if ok && sess.operator != posgate.AdminOperator {
			exists, err := c.svc.OperatorExists(r.Context(), sess.operator)
			if err != nil {
				c.fail(w, "session", err)
				return
			}
			ok = exists
		}
		if !ok {
			if r.Method != http.MethodGet || r.URL.Path == "/console/events" {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !c.sessions.checkCSRF(sess.id, r.PostFormValue("csrf")) {
			c.log.Warn("console: POST refused: bad CSRF token", "path", r.URL.Path, "operator", sess.operator, "remote", r.RemoteAddr)
			http.Error(w, "invalid or missing CSRF token: reload the page", http.StatusForbidden)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// operatorOf is the operator whose session authed let r in.
func operatorOf(r *http.Request) string {
	sess, _ := r.Context().Value(sessionKey{}).(session)
	return sess.operator
}

// page is what every page's layout shows.
type page struct {
	LoggedIn  bool
	Operator  string
	Title     string
	CSRF      string
	Simulated bool
	Nav       string
	Flash     string
	Data      any
}

func (c *console) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	if sess, ok := r.Context().Value(sessionKey{}).(session); ok {
		p.CSRF, p.LoggedIn, p.Operator = c.sessions.csrf(sess.id), true, sess.operator
	}
	p.Simulated = c.cfg.SimulatedAcquirer
	p.Flash = r.URL.Query().Get("flash")
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (c *console) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, posgate.ErrNotFound) {
		http.Error(w, what+": not found", http.StatusNotFound)
		return
	}
	c.log.Error("console: "+what, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// next is where to go after logging in: a console path, never elsewhere.
func next(r *http.Request) string {
	n := r.FormValue("next")
	u, err := url.Parse(n)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(n, "/console/") {
		return "/console/"
	}
	return n
}

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := page{Title: "Log in", Data: map[string]string{"Next": next(r), "Error": msg}}
	p.CSRF = c.sessions.loginNonce(w, r)
	p.Simulated = c.cfg.SimulatedAcquirer
	var buf bytes.Buffer
	if err := c.pages["login"].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render login", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	if !c.sessions.checkLogin(r, r.PostFormValue("csrf")) {
		http.Error(w, "invalid or missing CSRF token: reload the login page", http.StatusForbidden)
		return
	}
	operator := strings.TrimSpace(r.PostFormValue("operator"))
	secret := r.PostFormValue("token")
	var ok bool
	switch operator {
	case "", posgate.AdminOperator:
		operator, ok = posgate.AdminOperator, c.sessions.checkToken(secret)
	default:
		if posgate.CheckOperatorName(operator) == nil {
			var err error
			if ok, err = c.svc.CheckOperator(r.Context(), operator, secret); err != nil {
				c.fail(w, "login", err)
				return
			}
		}
	}
	if !ok {
		c.log.Warn("console: login refused", "operator", operator, "remote", r.RemoteAddr)
		c.showLogin(w, r, http.StatusUnauthorized, "Wrong operator name or secret (leave the name empty for the admin token).")
		return
	}
	c.log.Info("console: operator logged in", "operator", operator, "remote", r.RemoteAddr)
	http.SetCookie(w, cookie(r, loginCookie, "", -1))
	c.sessions.start(w, r, operator)
	http.Redirect(w, r, next(r), http.StatusSeeOther)
}

func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
