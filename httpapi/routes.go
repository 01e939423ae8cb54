package httpapi

import (
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/openapi"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handlers are the gateway's HTTP surface. Admin is nil unless
// Config.SeparateAdmin: then the operator's routes (/admin/v1, /metrics
// with pprof, and Config.AdminRoutes such as the console) are served only
// by Admin, and Public answers 404 for them.
type Handlers struct {
	Public, Admin http.Handler
}

// routes is every route the gateway serves: the API's own, extra, which
// the server mounts beside them (the terminal endpoint termproto.Path,
// the demo's receiver), and the operator's routes with adminExtra (the
// console under /console/).
func (a *api) routes(extra, adminExtra map[string]http.Handler) Handlers {
	mux := http.NewServeMux()
	healthz := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	}
	mux.HandleFunc("POST /Payments", a.payments)
	mux.HandleFunc("GET /healthz", healthz)
	ready := `{"status":"ready"}` + "\n"
	if a.cfg.SimulatedAcquirer {
		ready = `{"status":"ready","acquirer":"` + acquirer.SimulatedName + `"}` + "\n"
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if a.draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":"draining"}`+"\n")
			return
		}
		io.WriteString(w, ready)
	})
	doc := openapi.Document()
	mux.HandleFunc("GET "+openapi.Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	hs := Handlers{Public: mux}
	admin := mux
	if a.cfg.SeparateAdmin {
		admin = http.NewServeMux()
		admin.HandleFunc("GET /healthz", healthz)
		hs.Admin = admin
	}
	a.adminRoutes(admin, adminExtra)
	return hs
}

// adminRoutes mounts the operator's routes on mux.
func (a *api) adminRoutes(mux *http.ServeMux, extra map[string]http.Handler) {
	var metrics http.Handler = promhttp.HandlerFor(a.cfg.Registry, promhttp.HandlerOpts{})
	if a.cfg.MetricsAuth {
		metrics = a.adminRaw(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.Handle("GET /admin/v1/terminals", a.admin(a.listTerminals))
	mux.Handle("GET /admin/v1/terminals/{tid}", a.admin(a.getTerminal))
	mux.Handle("GET /admin/v1/orders", a.admin(a.listOrders))
	mux.Handle("GET /admin/v1/orders/{trade_id}", a.admin(a.getOrder))
	mux.Handle("GET /admin/v1/notifications", a.admin(a.listNotifications))
	mux.Handle("POST /admin/v1/notifications/{id}/replay", a.admin(a.replayNotification))
	// Profiles for operators, behind the same credentials: never open to
	// anyone who can reach /Payments (docs/operations.md).
	mux.Handle("GET /admin/v1/debug/pprof/", a.adminRaw(http.StripPrefix("/admin/v1", http.HandlerFunc(pprof.Index))))
	mux.Handle("GET /admin/v1/debug/pprof/profile", a.adminRaw(http.HandlerFunc(pprof.Profile)))
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
}
