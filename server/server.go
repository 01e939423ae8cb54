// Package server assembles a running gateway from its parts: the store
// chosen by the DSN, the master key, the payment service, the terminal
// link and the HTTP API. The posgate command, the demo and the end-to-end
// tests all start gateways through it.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/cluster"
	"github.com/posgate/posgate/console"
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/notify"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/postgres"
	"github.com/posgate/posgate/sqlite"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
	"github.com/posgate/posgate/vault"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// EnvAdminToken names the variable that sets the operator API's token.
const EnvAdminToken = "POSGATE_ADMIN_TOKEN"

// Config is a gateway's configuration; zero values take the defaults that
// each field's package documents.
type Config struct {
	DB                string        // SQLite path (default posgate.db)
	TimeWindow        time.Duration // request time tolerance (300 s)
	HeartbeatInterval time.Duration // terminal heartbeat (10 s)
	TerminalIO        string        // how terminal connections are read: termlink.IOAuto (default), IOPoller or IOGoroutine
	// TerminalGoroutines is how many connections IOAuto serves with a
	// goroutine each (termlink.DefaultGoroutineConns).
	TerminalGoroutines int
	SaleTimeout        time.Duration // card acquisition timeout (120 s)
	DisplayWait        time.Duration // v3.POS wait for the amount on screen (15 s)
	ReversalWait       time.Duration // v3.POSReversal wait for the result (60 s)
	AbortWait          time.Duration // cancel wait for the terminal (10 s)
	ReconcileAfter     time.Duration // wait for an unanswering terminal's report after the card time (10 min)
	AcquirerTimeout    time.Duration // one acquirer call (30 s); stuck refunds and captures recovered after twice that
	// Acquirer makes refunds; nil is the simulated acquirer, announced as
	// such (server/acquirer.go). posgate serve makes the operator choose.
	Acquirer acquirer.Acquirer
	Now      func() time.Time
	Logger   *slog.Logger
	Getenv   func(string) string
	// AdminOut receives the admin token when one is generated.
	AdminOut func(token string)
	// AllowPrivateNotify lets notifications go to loopback and private
	// addresses, for local development.
	AllowPrivateNotify bool
	// NotifyDelays replaces notify.Schedule, the waits between delivery
	// attempts (tests).
	NotifyDelays []time.Duration
	// Routes are mounted beside the API's own (the demo's receiver).
	Routes map[string]http.Handler
	// HTTP bounds connections (server/http.go).
	HTTP HTTPLimits
	// MetricsAuth puts /metrics behind the admin token.
	MetricsAuth bool
	// RateLimits bounds /Payments per user and per source address.
	RateLimits httpapi.RateLimits
	// Link bounds what terminals may send: connections and failed hellos
	// per address, progress frames per terminal.
	Link LinkLimits
	// Cluster, when its NATS URL is set, makes a serving gateway one node
	// of a cluster sharing its PostgreSQL database (docs/cluster.md).
	// Operator commands (OpenApp) ignore it.
	Cluster cluster.Config
	// LogStringToSign: see httpapi.Config (the demo only).
	LogStringToSign bool
	// Drain is how Serve leaves when its context ends (server/drain.go).
	Drain Drain
	// SeparateAdmin serves /admin, /console, /metrics and pprof only on
	// a listener of their own (--admin-addr; Gateway.ServeWithAdmin), not
	// beside /Payments.
	SeparateAdmin bool
}

// sqlitePath is the SQLite file a DSN names; false when the DSN names a
// PostgreSQL database instead.
func sqlitePath(dsn string) (string, bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "", false
	}
	for _, p := range []string{"sqlite://", "file:"} {
		dsn = strings.TrimPrefix(dsn, p)
	}
	return dsn, true
}

// OpenSealer loads the master key: POSGATE_MASTER_KEY, else posgate.key
// beside the SQLite database, created on first use. A PostgreSQL database
// has no place beside it, and the processes sharing it must share the key
// too, so with one the variable is required.
func OpenSealer(getenv func(string) string, dsn string) (*vault.Sealer, error) {
	path, ok := sqlitePath(dsn)
	if !ok && strings.TrimSpace(getenv(vault.EnvKey)) == "" {
		return nil, fmt.Errorf("%s is required with a PostgreSQL database: every process using it must seal and open secrets with the same key", vault.EnvKey)
	}
	key, err := vault.LoadKey(getenv, filepath.Join(filepath.Dir(path), vault.KeyFileName))
	if err != nil {
		return nil, err
	}
	return vault.New(key)
}

// adminTokenHash returns the SHA-256 of the operator token: from
// POSGATE_ADMIN_TOKEN, else from posgate.admin beside the SQLite database,
// where a token generated at first start keeps only its hash (the token
// itself is shown once through show). With PostgreSQL the variable is
// required: a file per process would give each gateway sharing the
// database a different token.
func adminTokenHash(getenv func(string) string, dsn string, show func(string)) ([]byte, error) {
	if t := getenv(EnvAdminToken); t != "" {
		h := sha256.Sum256([]byte(t))
		return h[:], nil
	}
	dbPath, ok := sqlitePath(dsn)
	if !ok {
		return nil, fmt.Errorf("%s is required with a PostgreSQL database: every process using it must accept the same operator token", EnvAdminToken)
	}
	path := filepath.Join(filepath.Dir(dbPath), "posgate.admin")
	if b, err := os.ReadFile(path); err == nil {
		h, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("%s does not hold a SHA-256 hex digest", path)
		}
		return h, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := "pga_" + hex.EncodeToString(raw)
	h := sha256.Sum256([]byte(token))
	if err := os.WriteFile(path, []byte(hex.EncodeToString(h[:])+"\n"), 0o600); err != nil {
		return nil, err
	}
	show(token)
	return h[:], nil
}

// LinkLimits are the terminal link's rate limits (termlink.Config).
type LinkLimits struct{ Hellos, HelloFailures, Accepts, Progress termlink.Rate }

// DefaultDB is the database of every command that is given none.
const DefaultDB = "posgate.db"

func (cfg Config) withDefaults() Config {
	if cfg.DB == "" {
		cfg.DB = DefaultDB
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AdminOut == nil {
		cfg.AdminOut = func(string) {}
	}
	if cfg.Acquirer == nil {
		cfg.Acquirer = acquirer.Simulated{}
	}
	return cfg
}

// App is a gateway without its HTTP surface: the store with its
// notification outbox, the terminal link and the payment service, each
// built with all it depends on. Every process that changes state gets one
// here, so none can forget a part (a store without its outbox would keep
// notifications that are never sent).
type App struct {
	Store   posgate.Store
	Sealer  *vault.Sealer
	Service *payment.Service
	Hub     *termlink.Hub
	// Cluster is this gateway's node when it runs in a cluster, else nil.
	Cluster *cluster.Node

	delivery  notify.Runner // nil in an operator command: the serving gateway delivers
	metrics   *paymentMetrics
	log       *slog.Logger
	closeOnce sync.Once
}

// OpenApp assembles the application for an operator command: its
// notifications are enqueued in the database and delivered by the gateway
// serving it, and no terminal connects to it. Close it when done.
func OpenApp(ctx context.Context, cfg Config) (*App, error) {
	return openApp(ctx, cfg.withDefaults(), false, nil)
}

// openApp assembles the application; deliver runs the notification
// deliveries here. watch, when set, wraps the store the payment service
// and the deliveries write through (the console's live feed).
func openApp(ctx context.Context, cfg Config, deliver bool, watch func(posgate.Store) posgate.Store) (*App, error) {
	if watch == nil {
		watch = func(s posgate.Store) posgate.Store { return s }
	}
	clustered := deliver && cfg.Cluster.NATS != ""
	if clustered {
		if err := checkCluster(cfg); err != nil {
			return nil, err
		}
	}
	sealer, err := OpenSealer(cfg.Getenv, cfg.DB)
	if err != nil {
		return nil, err
	}
	var creds *payment.Credentials
	st, runner, err := openStore(ctx, cfg.DB, func(st posgate.Store) *notify.Config {
		creds = payment.NewCredentials(st, sealer)
		if !deliver {
			return nil
		}
		return &notify.Config{
			Store: watch(st), Secret: creds.Secret, AllowPrivate: cfg.AllowPrivateNotify, Delays: cfg.NotifyDelays,
			Now: cfg.Now, Logger: cfg.Logger,
		}
	})
	if err != nil {
		return nil, err
	}
	hub, err := termlink.New(termlink.Config{
		HeartbeatInterval: cfg.HeartbeatInterval, TimeWindow: cfg.TimeWindow, Now: cfg.Now, Logger: cfg.Logger,
		Hellos: cfg.Link.Hellos, HelloFailures: cfg.Link.HelloFailures, Accepts: cfg.Link.Accepts, Progress: cfg.Link.Progress,
		IO: cfg.TerminalIO, GoroutineConns: cfg.TerminalGoroutines,
	})
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	var link payment.Link = hub
	var node *cluster.Node
	var waitPoll time.Duration
	if clustered {
		cc := cfg.Cluster
		if cc.Logger == nil {
			cc.Logger = cfg.Logger
		}
		if node, err = cluster.Open(ctx, cc, st.(*postgres.Store).Pool(), hub); err != nil {
			return nil, errors.Join(err, st.Close())
		}
		link, waitPoll = node, cc.WaitPoll
		if waitPoll <= 0 {
			waitPoll = cluster.DefaultWaitPoll
		}
	}
	metrics := newPaymentMetrics()
	svc := payment.New(payment.Config{
		SaleTimeout: cfg.SaleTimeout, DisplayWait: cfg.DisplayWait, ReversalWait: cfg.ReversalWait,
		AbortWait: cfg.AbortWait, ReconcileAfter: cfg.ReconcileAfter, AcquirerTimeout: cfg.AcquirerTimeout, WaitPoll: waitPoll, Now: cfg.Now, Logger: cfg.Logger,
	}, payment.Deps{Store: watch(st), Credentials: creds, Link: link, Payloads: httpapi.Payloads{SimulatedAcquirer: acquirer.IsSimulated(cfg.Acquirer)}, Acquirer: cfg.Acquirer,
		Observer: metrics})
	if node != nil {
		if err := node.Attach(svc); err != nil {
			return nil, errors.Join(err, node.Close(), st.Close())
		}
	}
	app := &App{Store: st, Sealer: sealer, Service: svc, Hub: hub, Cluster: node, log: cfg.Logger, metrics: metrics}
	if deliver {
		app.delivery = runner
	}
	return app, nil
}

// checkCluster refuses a cluster on SQLite, before anything is created.
func checkCluster(cfg Config) error {
	if _, sqlite := sqlitePath(cfg.DB); sqlite && cfg.Cluster.NATS != "" {
		return errors.New("cluster mode needs a PostgreSQL database (--db postgres://...): SQLite is single-node")
	}
	return nil
}

// openStore opens the store a DSN names (PostgreSQL for a postgres:// or
// postgresql:// URL, else SQLite: a file path, optionally prefixed with
// sqlite:// or file:) with its notification outbox, so a notification and
// its delivery commit together: on SQLite the notification rows
// themselves, handed to a notify.Dispatcher as they commit; on PostgreSQL
// River on the store's own database. delivery returns the delivery
// workers' configuration, or nil to only store them (the serving gateway
// delivers). runner delivers when delivery gave a configuration.
func openStore(ctx context.Context, dsn string, delivery func(posgate.Store) *notify.Config) (posgate.Store, notify.Runner, error) {
	var runner notify.Runner
	if path, ok := sqlitePath(dsn); ok {
		s, err := sqlite.Open(ctx, path, func(ctx context.Context, s *sqlite.Store) (sqlite.Dispatch, error) {
			cfg := delivery(s)
			if cfg == nil {
				// The serving gateway's next scan finds them.
				return func([]sqlite.Scheduled) {}, nil
			}
			d, err := notify.NewDispatcher(*cfg, s.Due, 0)
			if err != nil {
				return nil, err
			}
			runner = d
			return d.Committed, nil
		})
		if err != nil {
			return nil, nil, err
		}
		return s, runner, nil
	}
	p, err := postgres.Open(ctx, dsn, func(ctx context.Context, s *postgres.Store) (postgres.NotificationQueue, error) {
		q, err := notify.Open(ctx, riverpgxv5.New(s.Pool()), delivery(s))
		if err != nil {
			return nil, err
		}
		runner = q
		return q.Enqueue, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return p, runner, nil
}

// Close releases the store.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		if a.Cluster != nil {
			err = a.Cluster.Close()
		}
		err = errors.Join(err, a.Store.Close())
	})
	return err
}

// Gateway is an assembled, not yet serving, gateway: the App with its
// HTTP surface.
type Gateway struct {
	*App
	Handler http.Handler
	// AdminHandler serves the operator's routes when Config.SeparateAdmin
	// is set; nil otherwise (they are in Handler).
	AdminHandler http.Handler

	limits   HTTPLimits
	feed     *console.Feed
	drainCfg Drain
	draining atomic.Bool
	calls    calls
}

// Open assembles a gateway that serves terminals and the API and delivers
// notifications. Close it when done.
func Open(ctx context.Context, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := checkCluster(cfg); err != nil {
		return nil, err
	}
	adminHash, err := adminTokenHash(cfg.Getenv, cfg.DB, cfg.AdminOut)
	if err != nil {
		return nil, err
	}
	feed := console.NewFeed()
	app, err := openApp(ctx, cfg, true, feed.WatchStore)
	if err != nil {
		return nil, err
	}
	simulated := acquirer.IsSimulated(cfg.Acquirer)
	var terminals termlink.Handler = app.Service
	if app.Cluster != nil {
		terminals = app.Cluster.Watch(terminals)
	}
	routes := map[string]http.Handler{
		"GET " + termproto.Path: app.Hub.Endpoint(feed.Watch(terminals)),
	}
	adminRoutes := map[string]http.Handler{
		"/console/": console.New(console.Config{AdminTokenSHA256: adminHash, SimulatedAcquirer: simulated, Now: cfg.Now, Logger: cfg.Logger},
			console.Deps{Service: app.Service, Link: linkStatus{app.Hub, app.Cluster}, Feed: feed}),
	}
	for pattern, h := range cfg.Routes {
		routes[pattern] = h
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), app.delivery, BuildInfoCollector(), announceAcquirer(cfg.Logger, cfg.Acquirer),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posgate_terminals_connected",
			Help: "Terminals with a live, authenticated connection to this gateway.",
		}, func() float64 { return float64(app.Hub.Connected()) }))
	reg.MustRegister(app.metrics.collectors()...)
	for _, r := range []posgate.Reconciliation{posgate.LateApprovalReversing, posgate.LateApprovalReversed, posgate.LateApprovalNotReversed} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "posgate_late_approvals_total",
			Help:        "Approvals that came after their order was settled as not paid, by what became of them (reversing: a reversal was queued; reversed; not_reversed: an operator must refund).",
			ConstLabels: prometheus.Labels{"reconciliation": string(r)},
		}, func() float64 { return float64(app.Service.LateApprovals()[r]) }))
	}
	g := &Gateway{App: app, limits: cfg.HTTP, feed: feed, drainCfg: cfg.Drain.withDefaults()}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "posgate_draining",
		Help: "1 while the gateway drains after SIGTERM (/readyz answers 503), else 0.",
	}, func() float64 {
		if g.draining.Load() {
			return 1
		}
		return 0
	}))
	for reason, count := range map[string]func() int64{
		"accept_rate": func() int64 { n, _ := app.Hub.Refused(); return n },
		"draining":    func() int64 { _, n := app.Hub.Refused(); return n },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "posgate_terminal_connections_refused_total",
			Help:        "Terminal connections refused with 503 before the upgrade, by reason (accept_rate: over --rate-accept; draining).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(count()) }))
	}
	h := httpapi.New(httpapi.Config{
		TimeWindow: cfg.TimeWindow, AdminTokenSHA256: adminHash, Now: cfg.Now, Logger: cfg.Logger, Registry: reg,
		WriteTimeout: cfg.HTTP.WriteTimeout, MetricsAuth: cfg.MetricsAuth,
		RateLimits: cfg.RateLimits, SimulatedAcquirer: simulated, LogStringToSign: cfg.LogStringToSign,
		Draining: g.draining.Load, SeparateAdmin: cfg.SeparateAdmin,
	}, app.Service, linkStatus{app.Hub, app.Cluster}, routes, adminRoutes)
	g.Handler, g.AdminHandler = g.calls.track(h.Public), h.Admin
	return g, nil
}

// linkStatus adapts the hub, and in a cluster the node's presence view,
// to what the operator API shows.
type linkStatus struct {
	hub  *termlink.Hub
	node *cluster.Node // nil outside a cluster
}

// Links: last_seen, client and offline_since are what this node's hub
// saw; in a cluster, online and node come from the cluster's presence,
// so every node tells the same.
func (l linkStatus) Links(ctx context.Context, tids []string) (map[string]httpapi.LinkStatus, error) {
	var holders map[string]string
	if l.node != nil {
		var err error
		if holders, err = l.node.Holders(ctx, tids); err != nil {
			return nil, err
		}
	}
	out := make(map[string]httpapi.LinkStatus, len(tids))
	for _, tid := range tids {
		s := l.hub.Status(tid)
		ls := httpapi.LinkStatus{Online: s.Online, LastSeen: s.LastSeen, OfflineSince: s.OfflineSince, Client: s.Client}
		if l.node != nil {
			ls.Node = holders[tid]
			ls.Online = ls.Node != ""
		}
		out[tid] = ls
	}
	return out, nil
}

// Serve runs the gateway on ln until ctx ends, then drains (drain.go) and
// shuts down cleanly: background work stops, a cluster node leaves (its
// presence goes), the store closes. TLS is used when
// certFile and keyFile are set.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	return g.ServeWithAdmin(ctx, ln, nil, certFile, keyFile)
}

// ServeWithAdmin is Serve with the operator's routes on adminLn, which a
// gateway opened with Config.SeparateAdmin requires and any other refuses.
// Both listeners use the same TLS certificate and connection limits.
func (g *Gateway) ServeWithAdmin(ctx context.Context, ln, adminLn net.Listener, certFile, keyFile string) error {
	if (adminLn != nil) != (g.AdminHandler != nil) {
		return errors.Join(errors.New("server: an admin listener goes with Config.SeparateAdmin, and only with it"), g.Close())
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		if g.Cluster != nil {
			wg.Go(func() { g.Cluster.Run(bg) })
		}
		g.Service.Run(bg)
		wg.Wait()
		close(bgDone)
	}()
	if err := g.delivery.Start(bg); err != nil {
		stopBG()
		<-bgDone
		return errors.Join(fmt.Errorf("start notification delivery: %w", err), g.Close())
	}
	srvs := []*http.Server{g.httpServer(g.Handler)}
	lns := []net.Listener{ln}
	if adminLn != nil {
		srvs, lns = append(srvs, g.httpServer(g.AdminHandler)), append(lns, adminLn)
	}
	errc := make(chan error, len(srvs))
	for i, srv := range srvs {
		ln := limitConns(lns[i], g.limits.MaxConns)
		go func() {
			if certFile != "" {
				errc <- srv.ServeTLS(ln, certFile, keyFile)
			} else {
				errc <- srv.Serve(ln)
			}
		}()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		g.drain()
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.Hub.Shutdown(shutdown)
	// The console's event streams would hold their connections until the
	// shutdown timeout.
	g.feed.Close()
	for _, srv := range srvs {
		if serr := srv.Shutdown(shutdown); serr != nil && err == nil {
			err = serr
		}
	}
	if oerr := g.delivery.Stop(shutdown); oerr != nil && err == nil {
		err = oerr
	}
	stopBG()
	<-bgDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, g.Close())
}
