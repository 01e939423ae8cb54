package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/posgate/posgate/server"
	"github.com/spf13/cobra"
)

// gatewayFlags are the tunables serve and demo share.
type gatewayFlags struct {
	db                                     string
	timeWindow, heartbeat                  time.Duration
	saleTimeout, reversalWait, displayWait time.Duration
	logFormat, logLevel                    string
	allowPrivateNotify                     bool
}

func (g *gatewayFlags) register(e *env, c *cobra.Command, defaultDB string) {
	dbFlagDefault(e, c, &g.db, defaultDB)
	f := c.Flags()
	f.DurationVar(&g.timeWindow, "time-window", 300*time.Second, "how far a request's time may be from the server clock")
	f.DurationVar(&g.heartbeat, "heartbeat", 10*time.Second, "terminal heartbeat interval; a silent terminal is dropped after two")
	f.DurationVar(&g.saleTimeout, "sale-timeout", 120*time.Second, "how long an order waits for the card before it expires")
	f.DurationVar(&g.displayWait, "display-wait", 15*time.Second, "how long v3.POS waits for the terminal to show the amount")
	f.DurationVar(&g.reversalWait, "reversal-wait", 60*time.Second, "how long v3.POSReversal waits for the terminal's result before answering -4203")
	f.StringVar(&g.logFormat, "log-format", e.envOr("POSGATE_LOG_FORMAT", "text"), "log format: text or json")
	f.StringVar(&g.logLevel, "log-level", e.envOr("POSGATE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
}

func (g *gatewayFlags) config(e *env) server.Config {
	return server.Config{
		DB: g.db, TimeWindow: g.timeWindow, HeartbeatInterval: g.heartbeat,
		SaleTimeout: g.saleTimeout, DisplayWait: g.displayWait, ReversalWait: g.reversalWait,
		Logger: e.logger(g.logFormat, g.logLevel), Getenv: e.getenv, AllowPrivateNotify: g.allowPrivateNotify,
		AdminOut: func(token string) {
			fmt.Fprintf(e.stdout, "admin_token=%s\n(generated on first start and shown only now; its hash is kept beside the database. Set %s to choose your own.)\n", token, server.EnvAdminToken)
		},
	}
}

func serveCmd(e *env) *cobra.Command {
	var g gatewayFlags
	var lim limitFlags
	var addr, certFile, keyFile, cpuProfile string
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
