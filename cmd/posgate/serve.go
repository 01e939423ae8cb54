package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/spf13/cobra"
)

// gatewayFlags are the tunables serve and demo share.
type gatewayFlags struct {
	db                                     string
	timeWindow, heartbeat                  time.Duration
	saleTimeout, reversalWait, displayWait time.Duration
	reconcileAfter                         time.Duration
	logFormat, logLevel                    string
	allowPrivateNotify                     bool
}

func (g *gatewayFlags) register(e *env, c *cobra.Command, defaultDB string) {
	dbFlagDefault(e, c, &g.db, defaultDB)
	f := c.Flags()
	f.DurationVar(&g.timeWindow, "time-window", protocol.DefaultTimeWindow, "how far a request's time may be from the server clock")
	f.DurationVar(&g.heartbeat, "heartbeat", termlink.DefaultHeartbeatInterval, "terminal heartbeat interval; a silent terminal is dropped after two")
	f.DurationVar(&g.saleTimeout, "sale-timeout", payment.DefaultSaleTimeout, "how long an order waits for the card; then the terminal is told to stop and its answer decides")
	f.DurationVar(&g.displayWait, "display-wait", payment.DefaultDisplayWait, "how long v3.POS waits for the terminal to show the amount")
	f.DurationVar(&g.reversalWait, "reversal-wait", payment.DefaultReversalWait, "how long v3.POSReversal waits for the terminal's result before answering -4203")
	f.DurationVar(&g.reconcileAfter, "reconcile-after", payment.DefaultReconcileAfter, "how long after its card time an order still waits for an unanswering terminal's report before it expires (a later approval is reversed)")
	f.StringVar(&g.logFormat, "log-format", e.envOr("POSGATE_LOG_FORMAT", "text"), "log format: text or json")
	f.StringVar(&g.logLevel, "log-level", e.envOr("POSGATE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
}

func (g *gatewayFlags) config(e *env) server.Config {
	return server.Config{
		DB: g.db, TimeWindow: g.timeWindow, HeartbeatInterval: g.heartbeat,
		SaleTimeout: g.saleTimeout, DisplayWait: g.displayWait, ReversalWait: g.reversalWait, ReconcileAfter: g.reconcileAfter,
		Logger: e.logger(g.logFormat, g.logLevel), Getenv: e.getenv, AllowPrivateNotify: g.allowPrivateNotify,
		AdminOut: func(token string) {
			fmt.Fprintf(e.stdout, "admin_token=%s\n(generated on first start and shown only now; its hash is kept beside the database. Set %s to choose your own.)\n", token, server.EnvAdminToken)
		},
	}
}

func serveCmd(e *env) *cobra.Command {
	var g gatewayFlags
	var lim limitFlags
	var addr, certFile, keyFile, cpuProfile, acquirerName string
	var metricsAuth bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: the /Payments API, the terminal endpoint and the operator API",
		RunE: func(c *cobra.Command, _ []string) error {
			if (certFile == "") != (keyFile == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			if err := lim.check(c); err != nil {
				return err
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
			cfg.HTTP, cfg.RateLimits = lim.http, lim.rates
			cfg.MetricsAuth = metricsAuth
			cfg.Acquirer = acq
			gw, err := server.Open(c.Context(), cfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				gw.Close()
				return err
			}
			scheme := "http"
			if certFile != "" {
				scheme = "https"
			}
			cfg.Logger.Info("posgate serving", "url", scheme+"://"+ln.Addr().String(), "db", redactDSN(g.db))
			return gw.Serve(c.Context(), ln, certFile, keyFile)
		},
	}
	g.register(e, c, "posgate.db")
	lim.register(e, c)
	c.Flags().StringVar(&acquirerName, "acquirer", e.getenv("POSGATE_ACQUIRER"), "where refunds go, required: "+strings.Join(acquirer.Names(), ", ")+" (env POSGATE_ACQUIRER)")
	c.Flags().StringVar(&addr, "addr", e.envOr("POSGATE_ADDR", "127.0.0.1:8080"), "listen address (env POSGATE_ADDR)")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file until shutdown")
	c.Flags().StringVar(&certFile, "tls-cert", e.getenv("POSGATE_TLS_CERT"), "TLS certificate file (PEM); serve HTTPS and WSS")
	c.Flags().StringVar(&keyFile, "tls-key", e.getenv("POSGATE_TLS_KEY"), "TLS private key file (PEM)")
	c.Flags().BoolVar(&metricsAuth, "metrics-auth", e.getenv("POSGATE_METRICS_AUTH") == "true", "serve /metrics only with the admin bearer token (env POSGATE_METRICS_AUTH=true)")
	c.Flags().BoolVar(&g.allowPrivateNotify, "allow-private-notify", false, "let notifications go to loopback and private addresses (development only)")
	return c
}

// redactDSN hides a database URL's password, so logs never carry it.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
