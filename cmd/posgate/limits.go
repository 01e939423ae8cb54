package main

import (
	"fmt"
	"time"

	"github.com/posgate/posgate/httpapi"
	"github.com/posgate/posgate/server"
	"github.com/posgate/posgate/termlink"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// limitFlags are serve's bounds on what clients may hold and send. Each
// flag's default may be set by its POSGATE_* variable; a malformed one is
// reported when serve runs.
type limitFlags struct {
	http    server.HTTPLimits
	rates   httpapi.RateLimits
	link    server.LinkLimits
	envErrs []error
}

func (l *limitFlags) register(e *env, c *cobra.Command) {
	f := c.Flags()
	h, r := server.DefaultHTTPLimits, httpapi.DefaultRateLimits
	l.duration(e, f, &l.http.ReadHeaderTimeout, "read-header-timeout", "POSGATE_READ_HEADER_TIMEOUT", h.ReadHeaderTimeout, "how long a client may take to send a request's header")
	l.duration(e, f, &l.http.ReadTimeout, "read-timeout", "POSGATE_READ_TIMEOUT", h.ReadTimeout, "how long a client may take to send a whole request, header and body")
	l.duration(e, f, &l.http.WriteTimeout, "write-timeout", "POSGATE_WRITE_TIMEOUT", h.WriteTimeout, "how long writing an answer may take (for /Payments, from when it is ready)")
	l.duration(e, f, &l.http.IdleTimeout, "idle-timeout", "POSGATE_IDLE_TIMEOUT", h.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	l.integer(e, f, &l.http.MaxHeaderBytes, "max-header-bytes", "POSGATE_MAX_HEADER_BYTES", h.MaxHeaderBytes, "largest request header accepted")
	l.integer(e, f, &l.http.MaxConns, "max-conns", "POSGATE_MAX_CONNS", h.MaxConns, "connections served at once, terminals included; more wait to be accepted")
	l.float(e, f, &l.rates.PerUser, "rate-user", "POSGATE_RATE_USER", r.PerUser, "/Payments requests a second per authenticated user, on average")
	l.float(e, f, &l.rates.PerUserBurst, "rate-user-burst", "POSGATE_RATE_USER_BURST", r.PerUserBurst, "/Payments requests per user at once")
	l.float(e, f, &l.rates.PerAddr, "rate-addr", "POSGATE_RATE_ADDR", r.PerAddr, "/Payments requests a second per source address, on average")
	l.float(e, f, &l.rates.PerAddrBurst, "rate-addr-burst", "POSGATE_RATE_ADDR_BURST", r.PerAddrBurst, "/Payments requests per source address at once")
	l.float(e, f, &l.rates.AuthFailures, "rate-auth-failures", "POSGATE_RATE_AUTH_FAILURES", r.AuthFailures, "failed authentications a second per source address, on average; beyond, the address is refused")
	l.float(e, f, &l.rates.AuthFailuresBurst, "rate-auth-failures-burst", "POSGATE_RATE_AUTH_FAILURES_BURST", r.AuthFailuresBurst, "failed authentications per source address at once")
	l.float(e, f, &l.link.Hellos.PerSecond, "rate-hello", "POSGATE_RATE_HELLO", termlink.DefaultHellos.PerSecond, "terminal connections a second per source address, on average; more are answered 429")
	l.float(e, f, &l.link.Hellos.Burst, "rate-hello-burst", "POSGATE_RATE_HELLO_BURST", termlink.DefaultHellos.Burst, "terminal connections per source address at once")
	l.float(e, f, &l.link.HelloFailures.PerSecond, "rate-hello-failures", "POSGATE_RATE_HELLO_FAILURES", termlink.DefaultHelloFailures.PerSecond, "failed terminal hellos a second per source address, on average; beyond, the address is refused")
	l.float(e, f, &l.link.HelloFailures.Burst, "rate-hello-failures-burst", "POSGATE_RATE_HELLO_FAILURES_BURST", termlink.DefaultHelloFailures.Burst, "failed terminal hellos per source address at once")
	l.float(e, f, &l.link.Progress.PerSecond, "rate-progress", "POSGATE_RATE_PROGRESS", termlink.DefaultProgressRate.PerSecond, "progress frames a second per terminal, on average; more are dropped")
	l.float(e, f, &l.link.Progress.Burst, "rate-progress-burst", "POSGATE_RATE_PROGRESS_BURST", termlink.DefaultProgressRate.Burst, "progress frames per terminal at once")
}

func (l *limitFlags) float(e *env, f *pflag.FlagSet, p *float64, name, envName string, def float64, usage string) {
	f.Float64Var(p, name, def, usage+" (env "+envName+")")
	l.fromEnv(e, f, name, envName)
}

func (l *limitFlags) duration(e *env, f *pflag.FlagSet, p *time.Duration, name, envName string, def time.Duration, usage string) {
	f.DurationVar(p, name, def, usage+" (env "+envName+")")
	l.fromEnv(e, f, name, envName)
}

func (l *limitFlags) integer(e *env, f *pflag.FlagSet, p *int, name, envName string, def int, usage string) {
	f.IntVar(p, name, def, usage+" (env "+envName+")")
	l.fromEnv(e, f, name, envName)
}

// limitAnnotation marks the flags check bounds.
const limitAnnotation = "posgate-limit"

func (l *limitFlags) fromEnv(e *env, f *pflag.FlagSet, name, envName string) {
	f.SetAnnotation(name, limitAnnotation, []string{envName})
	if v := e.getenv(envName); v != "" {
		if err := f.Set(name, v); err != nil {
			l.envErrs = append(l.envErrs, fmt.Errorf("%s=%q: %w", envName, v, err))
		}
	}
}

// check refuses malformed variables and bounds that would switch a limit
// off: zero would silently mean the default.
func (l *limitFlags) check(c *cobra.Command) error {
	if len(l.envErrs) > 0 {
		return l.envErrs[0]
	}
	var bad string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if v := f.Value.String(); bad == "" && f.Annotations[limitAnnotation] != nil && (v == "0" || v == "0s" || v[0] == '-') {
			bad = f.Name
		}
	})
	if bad != "" {
		return fmt.Errorf("--%s must be above zero", bad)
	}
	return nil
}
