package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/cluster"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/posgate/posgate/termproto"
	"github.com/spf13/cobra"
)

// gatewayFlags are the tunables serve and demo share.
type gatewayFlags struct {
	db                                     string
	timeWindow, heartbeat                  time.Duration
	saleTimeout, reversalWait, displayWait time.Duration
	reconcileAfter, acquirerTimeout        time.Duration
	logFormat, logLevel                    string
	allowPrivateNotify                     bool
	terminalIO                             string
	terminalGoroutines                     int
}

func (g *gatewayFlags) register(c *cobra.Command, defaultDB string) {
	dbFlagDefault(c, &g.db, defaultDB)
	f := c.Flags()
	f.DurationVar(&g.timeWindow, "time-window", protocol.DefaultTimeWindow, "how far a request's time may be from the server clock")
	f.DurationVar(&g.heartbeat, "heartbeat", termlink.DefaultHeartbeatInterval, "terminal heartbeat interval; a silent terminal is dropped after two")
	f.DurationVar(&g.saleTimeout, "sale-timeout", payment.DefaultSaleTimeout, "how long an order waits for the card; then the terminal is told to stop and its answer decides")
	f.DurationVar(&g.displayWait, "display-wait", payment.DefaultDisplayWait, "how long v3.POS waits for the terminal to show the amount")
	f.DurationVar(&g.reversalWait, "reversal-wait", payment.DefaultReversalWait, "how long v3.POSReversal waits for the terminal's result before answering -4203")
	f.DurationVar(&g.reconcileAfter, "reconcile-after", payment.DefaultReconcileAfter, "how long after its card time an order still waits for an unanswering terminal's report before it expires (a later approval is reversed)")
	f.DurationVar(&g.acquirerTimeout, "acquirer-timeout", payment.DefaultAcquirerTimeout, "how long one acquirer call may take; a refund or capture still processing after twice that is asked again (same idempotency key)")
	f.StringVar(&g.terminalIO, "terminal-io", termlink.DefaultIO, "how terminal connections are read: "+termlink.IOAuto+" (a goroutine each for the first --terminal-goroutines, a few poll loops for the rest), "+termlink.IOPoller+" (the poll loops for all: least memory) or "+termlink.IOGoroutine+" (a goroutine each: the shortest path per frame)")
	f.IntVar(&g.terminalGoroutines, "terminal-goroutines", termlink.DefaultGoroutineConns, "with --terminal-io auto: how many terminal connections get a goroutine each (about 34 KiB each against 6)")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	for _, name := range []string{"time-window", "heartbeat", "sale-timeout", "display-wait", "reversal-wait", "reconcile-after", "acquirer-timeout"} {
		envFlag(f, name, envName(name))
		positive(f, name)
	}
	envFlag(f, "terminal-io", "POSGATE_TERMINAL_IO")
	envFlag(f, "terminal-goroutines", "POSGATE_TERMINAL_GOROUTINES")
	positive(f, "terminal-goroutines")
	envFlag(f, "log-format", "POSGATE_LOG_FORMAT")
	envFlag(f, "log-level", "POSGATE_LOG_LEVEL")
}

func (g *gatewayFlags) config(e *env) server.Config {
	return server.Config{
		DB: g.db, TimeWindow: g.timeWindow, HeartbeatInterval: g.heartbeat, TerminalIO: g.terminalIO, TerminalGoroutines: g.terminalGoroutines,
		SaleTimeout: g.saleTimeout, DisplayWait: g.displayWait, ReversalWait: g.reversalWait, ReconcileAfter: g.reconcileAfter,
		AcquirerTimeout: g.acquirerTimeout,
		Logger:          e.logger(g.logFormat, g.logLevel), Getenv: e.getenv, AllowPrivateNotify: g.allowPrivateNotify,
		AdminOut: func(token string) {
			fmt.Fprintf(e.stdout, "admin_token=%s\n(generated on first start and shown only now; its hash is kept beside the database. Set %s to choose your own.)\n", token, server.EnvAdminToken)
		},
	}
}

func serveCmd(e *env) *cobra.Command {
	var g gatewayFlags
	var lim limitFlags
	var addr, adminAddr, certFile, keyFile, cpuProfile, acquirerName string
	var metricsAuth bool
	var clu cluster.Config
	var clusterAlias string
	var drain server.Drain
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: the /Payments API, the terminal endpoint and the operator API",
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkServe(c, addr, certFile, keyFile); err != nil {
				return err
			}
			if drain.Spread > termproto.MaxReconnectAfter*time.Millisecond {
				return fmt.Errorf("--drain-spread (or POSGATE_DRAIN_SPREAD) %s: at most %s, the longest a reconnect frame may ask", drain.Spread, termproto.MaxReconnectAfter*time.Millisecond)
			}
			var err error
			if clu.NATS, err = clusterURL(clu.NATS, clusterAlias); err != nil {
				return err
			}
			if _, _, err := net.SplitHostPort(adminAddr); adminAddr != "" && err != nil {
				return fmt.Errorf("--admin-addr %q (or POSGATE_ADMIN_ADDR): want host:port, such as 127.0.0.1:9090: %w", adminAddr, err)
			}
			acq, err := acquirer.ByName(acquirerName)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			cfg := g.config(e)
			cfg.HTTP, cfg.RateLimits, cfg.Link = lim.http, lim.rates, lim.link
			cfg.MetricsAuth = metricsAuth
			cfg.Acquirer = acq
			cfg.Cluster = clu
			cfg.Drain = drain
			cfg.SeparateAdmin = adminAddr != ""
			gw, err := server.Open(c.Context(), cfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				gw.Close()
				return err
			}
			var adminLn net.Listener
			if adminAddr != "" {
				if adminLn, err = net.Listen("tcp", adminAddr); err != nil {
					ln.Close()
					gw.Close()
					return err
				}
			}
			scheme := "http"
			if certFile != "" {
				scheme = "https"
			}
			if gw.Cluster != nil {
				cfg.Logger.Info("posgate cluster node", "node_id", gw.Cluster.ID(), "nats", redactDSN(clu.NATS))
			}
			attrs := []any{"url", scheme + "://" + ln.Addr().String()}
			if adminLn != nil {
				attrs = append(attrs, "admin_url", scheme+"://"+adminLn.Addr().String())
			}
			cfg.Logger.Info("posgate serving", append(attrs, "db", redactDSN(g.db))...)
			return gw.ServeWithAdmin(c.Context(), ln, adminLn, certFile, keyFile)
		},
	}
	g.register(c, "posgate.db")
	lim.register(c)
	f := c.Flags()
	f.StringVar(&acquirerName, "acquirer", "", "where refunds go, required: "+strings.Join(acquirer.Names(), ", "))
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address, host:port")
	f.StringVar(&adminAddr, "admin-addr", "", "serve /admin, /console, /metrics and pprof only on this host:port, not beside /Payments")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file until shutdown")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS and WSS")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&metricsAuth, "metrics-auth", false, "serve /metrics only with the admin bearer token")
	f.BoolVar(&g.allowPrivateNotify, "allow-private-notify", false, "let notifications go to loopback and private addresses (development only)")
	f.StringVar(&clu.NATS, "cluster", "", "join a cluster of gateways on this NATS URL (nats://host:4222); needs a PostgreSQL --db (docs/cluster.md)")
	// The flag's first name, kept so existing deployments keep working.
	f.StringVar(&clusterAlias, "cluster-nats", "", "deprecated name of --cluster")
	f.MarkDeprecated("cluster-nats", "use --cluster (env POSGATE_CLUSTER)")
	f.StringVar(&clu.NodeID, "node-id", "", "this gateway's name in the cluster (default random at each start)")
	f.DurationVar(&clu.Heartbeat, "cluster-heartbeat", cluster.DefaultHeartbeat, "how often the node writes its heartbeat")
	f.DurationVar(&clu.StaleAfter, "cluster-stale-after", cluster.DefaultStaleAfter, "a node silent this long is dead: its terminals are offline everywhere")
	f.DurationVar(&drain.Grace, "drain-grace", server.DefaultDrainGrace, "on SIGTERM, how long merchant calls already running may still wait for their terminal (then -4203); new ones are refused meanwhile")
	f.DurationVar(&drain.Spread, "drain-spread", server.DefaultDrainSpread, "on SIGTERM, the window over which terminals are told to reconnect (elsewhere), each at a random moment")
	positive(f, "cluster-heartbeat", "cluster-stale-after", "drain-grace", "drain-spread")
	for _, name := range []string{"acquirer", "addr", "admin-addr", "cpuprofile", "tls-cert", "tls-key", "metrics-auth", "allow-private-notify",
		"cluster", "cluster-nats", "node-id", "cluster-heartbeat", "cluster-stale-after", "drain-grace", "drain-spread"} {
		envFlag(f, name, envName(name))
	}
	return c
}

// checkServe refuses, before anything is opened, what serve could only
// fail on later: an address that is not host:port, TLS files that do not
// load, and the bounds (checkPositive).
func checkServe(c *cobra.Command, addr, certFile, keyFile string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--addr %q (or POSGATE_ADDR): want host:port, such as 127.0.0.1:8080: %w", addr, err)
	}
	if (certFile == "") != (keyFile == "") {
		return fmt.Errorf("--tls-cert and --tls-key (or POSGATE_TLS_CERT and POSGATE_TLS_KEY) go together")
	}
	if certFile != "" {
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return fmt.Errorf("--tls-cert and --tls-key (or POSGATE_TLS_CERT and POSGATE_TLS_KEY): %w", err)
		}
	}
	return checkPositive(c)
}

// clusterURL is --cluster, or its deprecated alias --cluster-nats when
// only that is set; both set to different URLs is refused rather than
// guessed.
func clusterURL(url, alias string) (string, error) {
	switch {
	case alias == "" || alias == url:
		return url, nil
	case url == "":
		return alias, nil
	}
	return "", fmt.Errorf("--cluster (or POSGATE_CLUSTER) and the deprecated --cluster-nats (or POSGATE_CLUSTER_NATS) name different URLs: keep --cluster only")
}

// redactDSN hides a database URL's password, so logs never carry it.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
