// Package httpapi is posgate's HTTP surface: the signed YabandPay-compatible
// POST /Payments endpoint, the operator API under /admin/v1, /healthz, /readyz,
// /metrics and its OpenAPI document at /openapi.json. Handlers decode, authenticate and validate, then call the
// payment service; one table maps its errors to protocol codes.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// Config holds the API's settings.
type Config struct {
	// TimeWindow is how far a request's time may be from the server clock,
	// in either direction (default 300 s).
	TimeWindow time.Duration
	// AdminTokenSHA256 is the SHA-256 of the bearer token that guards
	// /admin/v1 (Authorization: Bearer ...); only the hash is kept. Empty
	// disables the operator API.
	AdminTokenSHA256 []byte
	Now              func() time.Time
	Logger           *slog.Logger
	// Registry receives the API's metrics and is served on /metrics.
	Registry *prometheus.Registry
	// RateLimits bounds /Payments per user and per source address.
	RateLimits RateLimits
	// MetricsAuth puts /metrics behind the admin token: its counters
	// show a business's volume.
	MetricsAuth bool
	// WriteTimeout bounds writing a /Payments answer once it is ready
	// (default 30 s).
	WriteTimeout time.Duration
	// Draining reports that the gateway is shutting down: /readyz answers
	// 503 so load balancers stop sending to it, and a new /Payments call
	// is refused, before anything is read or done, with HTTP 503 and
	// Retry-After, so the caller (or the balancer) retries on another
	// gateway. Calls already running are not affected. Nil: never.
	Draining func() bool
	// SimulatedAcquirer says the gateway refunds through the simulated
	// acquirer: refund answers say so, /readyz too.
	SimulatedAcquirer bool
	// LogStringToSign logs, on -1001, the string the request's signature
	// should have been computed over. For the demo only: in production it
	// would write merchants' request data to the logs for anyone who
	// sends a bad signature.
	LogStringToSign bool
	// SeparateAdmin serves the operator's routes on their own handler
	// (Handlers.Admin), for a listener of their own (--admin-addr).
	SeparateAdmin bool
}

// Terminals is what the operator API shows of the live terminal link.
type Terminals interface {
	// Links reports the connection of each of tids; in a cluster, as the
	// whole cluster knows it, whichever node is asked.
	Links(ctx context.Context, tids []string) (map[string]LinkStatus, error)
}

type api struct {
	cfg   Config
	svc   *payment.Service
	terms Terminals
	log   *slog.Logger

	unknown  unknownUsers
	limits   *limiters
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the HTTP handlers. extra routes (the terminal endpoint) are
// mounted beside the API's own, adminExtra (the console) beside the
// operator's.
func New(cfg Config, svc *payment.Service, terms Terminals, extra, adminExtra map[string]http.Handler) Handlers {
	if cfg.TimeWindow <= 0 {
		cfg.TimeWindow = protocol.DefaultTimeWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	a := &api{
		cfg: cfg, svc: svc, terms: terms, log: cfg.Logger, limits: newLimiters(cfg.RateLimits.withDefaults()),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posgate_requests_total", Help: "POST /Payments answers by method and code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posgate_request_duration_seconds", Help: "POST /Payments latency by method and code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "code"}),
	}
	cfg.Registry.MustRegister(a.requests, a.latency)
	return a.routes(extra, adminExtra)
}

// newResponseID is a timestamp and ten random digits, the shape of
// YabandPay's response_id ("202407111550570060848432").
func newResponseID(now time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		panic(err)
	}
	return now.UTC().Format("20060102150405") + fmt.Sprintf("%010d", n.Int64())
}

func (a *api) draining() bool { return a.cfg.Draining != nil && a.cfg.Draining() }

func (a *api) payments(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := newResponseID(a.cfg.Now())
	w.Header().Set("X-Request-Id", rid)
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusOK
	var methodName, user string
	addr, now := sourceAddr(r), time.Now()
	data, err := func() (any, error) {
		if a.draining() {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
			return nil, protocol.Errorf(protocol.CodeRateLimited, "This gateway is draining: nothing was done; retry, another gateway answers")
		}
		if d, spent := a.limits.authFail.Exhausted(addr, now); spent {
			return nil, limited(w, d, "too many failed authentications from this address")
		}
		if d, ok := a.limits.addr.Take(addr, now); !ok {
			return nil, limited(w, d, "too many requests from this address")
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status = http.StatusRequestEntityTooLarge
				return nil, protocol.Errorf(protocol.CodeBadEnvelope, "body exceeds %d bytes", protocol.MaxBodyBytes)
			}
			return nil, protocol.Errorf(protocol.CodeBadEnvelope, "body could not be read")
		}
		req, err := protocol.DecodeRequest(body)
		if err != nil {
			return nil, err
		}
		user = req.User
		m, c, err := a.authenticate(r.Context(), req)
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeAuthFailed {
			a.limits.authFail.Take(addr, now)
			if a.cfg.LogStringToSign {
				a.log.Warn("signature does not verify (demo: the string it must be computed over follows)",
					"response_id", rid, "user", req.User, "string_to_sign", req.StringToSign())
			}
		}
		if err != nil {
			return nil, err
		}
		if d, ok := a.limits.user.Take(req.User, now); !ok {
			return nil, limited(w, d, "too many requests from user "+req.User)
		}
		methodName = req.Method
		return a.call(r.Context(), m, c, req)
	}()
	if exp, ok := data.(csvExport); ok && err == nil {
		a.streamCSV(w, r, rid, exp)
		a.requests.WithLabelValues(methodName, string(protocol.CodeOK)).Inc()
		a.latency.WithLabelValues(methodName, string(protocol.CodeOK)).Observe(time.Since(start).Seconds())
		a.log.Info("request", "response_id", rid, "method", methodName, "user", user, "code", string(protocol.CodeOK), "ms", float64(time.Since(start).Microseconds())/1000)
		return
	}
	resp := protocol.Response{Status: err == nil, Code: protocol.CodeOK, Data: data, ResponseID: rid}
	if err != nil {
		resp.Code, resp.Message = codeOf(err)
		resp.Data = a.failureData(err)
		if resp.Code == protocol.CodeInternal {
			if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
				// The caller hung up; what it asked for (a committed
				// reversal, say) goes on and is reported by notification.
				a.log.Info("caller went away before the answer", "response_id", rid, "method", methodName, "user", user)
			} else {
				a.log.Error("internal error", "response_id", rid, "method", methodName, "user", user, "err", err)
			}
			resp.Message = "Internal error; quote response_id " + rid
		}
	}
	body, merr := protocol.Marshal(resp)
	if merr != nil {
		a.log.Error("encode response", "response_id", rid, "err", merr)
		body = []byte(`{"status":false,"code":"-5000","data":null,"message":"Internal error","response_id":"` + rid + `"}`)
	}
	// The server's write deadline runs from the request's header, but a
	// sale waits up to --display-wait and a reversal up to --reversal-wait
	// for the terminal before there is anything to write: the bound is on
	// writing the answer, so it starts now. (The read deadline needs no
	// care: net/http lifts it once the body is read.)
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
	w.WriteHeader(status)
	w.Write(body)
	label := methodName
	if _, known := methods[label]; !known {
		label = "unknown"
	}
	elapsed := time.Since(start)
	a.requests.WithLabelValues(label, string(resp.Code)).Inc()
	a.latency.WithLabelValues(label, string(resp.Code)).Observe(elapsed.Seconds())
	a.log.Info("request", "response_id", rid, "method", methodName, "user", user, "code", string(resp.Code), "duration_ms", float64(elapsed.Microseconds())/1000)
}

// failureData is the order a refusal still shows, or null.
func (a *api) failureData(err error) any {
	var dupRefund *payment.DuplicateRefundError
	if errors.As(err, &dupRefund) {
		return viewRefund(dupRefund.Refund, dupRefund.Order, a.cfg.SimulatedAcquirer)
	}
	var dup *payment.DuplicateError
	if errors.As(err, &dup) && dup.Order != nil {
		return viewOrder(*dup.Order)
	}
	var we *payment.WaitError
	if errors.As(err, &we) {
		return viewOrder(we.Order)
	}
	return nil
}

// authenticate checks the envelope, the signature and the time window,
// in that order, and finds the method. Unknown users and bad signatures
// get the same answer, so nobody can probe which users exist.
func (a *api) authenticate(ctx context.Context, req *protocol.Request) (method, payment.Caller, error) {
	for _, f := range []string{"user", "sign", "method", "time"} {
		if _, ok := req.Top[f]; !ok && (f != "sign" || req.Sign == "") {
			return method{}, payment.Caller{}, protocol.Errorf(protocol.CodeMissingField, "Required field is missing: %s", f)
		}
	}
	if req.Sign == "" || req.User == "" || req.Method == "" || req.Time == "" {
		return method{}, payment.Caller{}, protocol.Errorf(protocol.CodeMissingField, "Required field is missing: user, sign, method and time must not be empty")
	}
	now := time.Now()
	if a.unknown.known(req.User, now) {
		protocol.Verify(dummySecret, req.StringToSign(), req.Sign)
		return method{}, payment.Caller{}, protocol.Errorf(protocol.CodeAuthFailed, "Authentication failed")
	}
	c, err := a.svc.Authenticate(ctx, req.User)
	if errors.Is(err, posgate.ErrNotFound) {
		a.unknown.add(req.User, now)
		protocol.Verify(dummySecret, req.StringToSign(), req.Sign)
		return method{}, payment.Caller{}, protocol.Errorf(protocol.CodeAuthFailed, "Authentication failed")
	}
	if err != nil {
		return method{}, payment.Caller{}, err
	}
	if !protocol.Verify(c.Secret, req.StringToSign(), req.Sign) {
		return method{}, payment.Caller{}, protocol.Errorf(protocol.CodeAuthFailed, "Authentication failed")
	}
	t, err := strconv.ParseInt(req.Time, 10, 64)
	if err != nil || strings.HasPrefix(req.Time, "+") {
		return method{}, c, protocol.Errorf(protocol.CodeInvalidField, "time must be Unix seconds")
	}
	if d := a.cfg.Now().Sub(time.Unix(t, 0)); d > a.cfg.TimeWindow || d < -a.cfg.TimeWindow {
		return method{}, c, protocol.Errorf(protocol.CodeTimeWindow, "time is %s away from the server clock; at most %s is allowed", d.Round(time.Second).Abs(), a.cfg.TimeWindow)
	}
	m, ok := methods[req.Method]
	if !ok {
		return method{}, c, protocol.Errorf(protocol.CodeUnknownMethod, "Unknown method %q", req.Method)
	}
	return m, c, nil
}

// call checks the method's required fields and the tid rule, then runs it.
func (a *api) call(ctx context.Context, m method, c payment.Caller, req *protocol.Request) (any, error) {
	var missing []string
	for _, f := range m.required {
		if req.Data[f] == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, protocol.Errorf(protocol.CodeMissingField, "Required field is missing: %s", strings.Join(missing, ", "))
	}
	if m.pos && req.Data["tid"] != req.User {
		return nil, protocol.Errorf(protocol.CodeTIDMismatch, "tid does not match user")
	}
	// A cashier passes the check above by naming itself as tid; its tid
	// names no terminal, so it is the same refusal, said plainly.
	if m.pos && c.Kind != posgate.KindTerminal {
		return nil, protocol.Errorf(protocol.CodeTIDMismatch, "%s is a terminal method: user and tid must be the terminal's TID, not a cashier's UID", req.Method)
	}
	if m.handle == nil {
		return nil, protocol.Errorf(protocol.CodeUnknownMethod, "Method %s is not available on this server yet", req.Method)
	}
	return m.handle(a, ctx, c, req)
}

// adminRaw serves h only to an operator: the admin token (operator
// "admin") or an operator's name and secret, as Authorization: Bearer
// TOKEN or Bearer NAME:SECRET. The operator's name is in the request's
// context for the audit (operatorOf).
func (a *api) adminRaw(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := a.operator(r)
		if err != nil {
			a.log.Error("admin: check operator", "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"internal error"}`+"\n")
			return
		}
		if name == "" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="posgate admin"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"a valid admin bearer token, or an operator's NAME:SECRET, is required"}`+"\n")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, name)))
	})
}

type operatorKey struct{}

// operatorOf is the operator adminRaw let in.
func operatorOf(r *http.Request) string {
	name, _ := r.Context().Value(operatorKey{}).(string)
	return name
}

// operator is the name of the operator whose credential r carries, or ""
// when it carries none that is valid.
func (a *api) operator(r *http.Request) (string, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", nil
	}
	sum := sha256.Sum256([]byte(token))
	if len(a.cfg.AdminTokenSHA256) > 0 && subtle.ConstantTimeCompare(sum[:], a.cfg.AdminTokenSHA256) == 1 {
		return posgate.AdminOperator, nil
	}
	name, secret, ok := strings.Cut(token, ":")
	if !ok || len(a.cfg.AdminTokenSHA256) == 0 || posgate.CheckOperatorName(name) != nil {
		return "", nil
	}
	valid, err := a.svc.CheckOperator(r.Context(), name, secret)
	if !valid {
		name = ""
	}
	return name, err
}

func (a *api) admin(h func(w http.ResponseWriter, r *http.Request) (any, int)) http.Handler {
	return a.adminRaw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		v, status := h(w, r)
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}))
}
