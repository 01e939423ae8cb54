package main

import (
	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/spf13/cobra"
)

// limitFlags are serve's bounds on what clients may hold and send. Each
// may be set by its POSGATE_* variable, and must be above zero.
type limitFlags struct {
	http  server.HTTPLimits
	rates httpapi.RateLimits
	link  server.LinkLimits
}

func (l *limitFlags) register(c *cobra.Command) {
	f := c.Flags()
	h, r := server.DefaultHTTPLimits, httpapi.DefaultRateLimits
	f.DurationVar(&l.http.ReadHeaderTimeout, "read-header-timeout", h.ReadHeaderTimeout, "how long a client may take to send a request's header")
	f.DurationVar(&l.http.ReadTimeout, "read-timeout", h.ReadTimeout, "how long a client may take to send a whole request, header and body")
	f.DurationVar(&l.http.WriteTimeout, "write-timeout", h.WriteTimeout, "how long writing an answer may take (for /Payments, from when it is ready)")
	f.DurationVar(&l.http.IdleTimeout, "idle-timeout", h.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	f.IntVar(&l.http.MaxHeaderBytes, "max-header-bytes", h.MaxHeaderBytes, "largest request header accepted")
	f.IntVar(&l.http.MaxConns, "max-conns", h.MaxConns, "connections served at once, terminals included; more wait to be accepted")
	f.Float64Var(&l.rates.PerUser, "rate-user", r.PerUser, "/Payments requests a second per authenticated user, on average")
	f.Float64Var(&l.rates.PerUserBurst, "rate-user-burst", r.PerUserBurst, "/Payments requests per user at once")
	f.Float64Var(&l.rates.PerAddr, "rate-addr", r.PerAddr, "/Payments requests a second per source address, on average")
	f.Float64Var(&l.rates.PerAddrBurst, "rate-addr-burst", r.PerAddrBurst, "/Payments requests per source address at once")
	f.Float64Var(&l.rates.AuthFailures, "rate-auth-failures", r.AuthFailures, "failed authentications a second per source address, on average; beyond, the address is refused")
	f.Float64Var(&l.rates.AuthFailuresBurst, "rate-auth-failures-burst", r.AuthFailuresBurst, "failed authentications per source address at once")
	f.Float64Var(&l.link.Hellos.PerSecond, "rate-hello", termlink.DefaultHellos.PerSecond, "terminal connections a second per source address, on average; more are answered 429")
	f.Float64Var(&l.link.Hellos.Burst, "rate-hello-burst", termlink.DefaultHellos.Burst, "terminal connections per source address at once")
	f.Float64Var(&l.link.HelloFailures.PerSecond, "rate-hello-failures", termlink.DefaultHelloFailures.PerSecond, "failed terminal hellos a second per source address, on average; beyond, the address is refused")
	f.Float64Var(&l.link.HelloFailures.Burst, "rate-hello-failures-burst", termlink.DefaultHelloFailures.Burst, "failed terminal hellos per source address at once")
	f.Float64Var(&l.link.Accepts.PerSecond, "rate-accept", termlink.DefaultAccepts.PerSecond, "new terminal connections a second on this gateway, all addresses together, on average; more are answered 503 (a reconnect storm's bound)")
	f.Float64Var(&l.link.Accepts.Burst, "rate-accept-burst", termlink.DefaultAccepts.Burst, "new terminal connections on this gateway at once")
	f.Float64Var(&l.link.Progress.PerSecond, "rate-progress", termlink.DefaultProgressRate.PerSecond, "progress frames a second per terminal, on average; more are dropped")
	f.Float64Var(&l.link.Progress.Burst, "rate-progress-burst", termlink.DefaultProgressRate.Burst, "progress frames per terminal at once")
	for _, name := range []string{"read-header-timeout", "read-timeout", "write-timeout", "idle-timeout", "max-header-bytes", "max-conns",
		"rate-user", "rate-user-burst", "rate-addr", "rate-addr-burst", "rate-auth-failures", "rate-auth-failures-burst",
		"rate-hello", "rate-hello-burst", "rate-hello-failures", "rate-hello-failures-burst", "rate-accept", "rate-accept-burst", "rate-progress", "rate-progress-burst"} {
		envFlag(f, name, envName(name))
		positive(f, name)
	}
}
