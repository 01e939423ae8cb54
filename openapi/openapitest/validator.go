// Package openapitest checks HTTP exchanges with the gateway against the
// OpenAPI document (package openapi), for tests: the end-to-end tests send
// every request through Transport, so a gateway and a document that
// disagree fail them. It is kept out of package openapi so the gateway's
// binary never links the validator.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/posgate/posgate/openapi"
)

// Validator checks exchanges against one document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// answers maps each v3 method to the schema of its answers (the
	// request schema's x-answer), and refusal is the answer to a request
	// whose method is not known.
	answers map[string]*openapi3.Schema
	refusal *openapi3.Schema
}

// Load returns a Validator of the gateway's document.
func Load() (*Validator, error) { return New(openapi.Document()) }

// New returns a Validator of the document in raw, which must be a valid
// OpenAPI 3.1 document whose POST /Payments request is a oneOf of method
// schemas, each naming its answer schema in x-answer.
func New(raw []byte) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc) // validates the document, examples included
	if err != nil {
		return nil, err
	}
	v := &Validator{doc: doc, router: router, answers: map[string]*openapi3.Schema{}}
	schemas := doc.Components.Schemas
	req := schemas["PaymentsRequest"]
	if req == nil || req.Value.Discriminator == nil {
		return nil, errors.New("components.schemas.PaymentsRequest with a discriminator is missing")
	}
	for method, ref := range req.Value.Discriminator.Mapping {
		name := strings.TrimPrefix(ref.Ref, "#/components/schemas/")
		s := schemas[name]
		if s == nil {
			return nil, fmt.Errorf("%s: %s is not a schema", method, ref.Ref)
		}
		answer, _ := s.Value.Extensions["x-answer"].(string)
		if schemas[answer] == nil {
			return nil, fmt.Errorf("%s: x-answer %q is not a schema", name, answer)
		}
		v.answers[method] = schemas[answer].Value
	}
	if schemas["Refusal"] == nil {
		return nil, errors.New("components.schemas.Refusal is missing")
	}
	v.refusal = schemas["Refusal"].Value
	return v, nil
}

// Doc is the loaded document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Answers returns the schema of the answers to method, nil for a method
// the document does not know.
func (v *Validator) Answers(method string) *openapi3.Schema { return v.answers[method] }

// Check validates one exchange: the request (its body in reqBody) and the
// gateway's answer (its body in respBody, nil when it was not read, as
// for a streamed CSV export). It returns what disagrees with the document:
//   - a request the document rejects must be refused: an envelope with
//     status false on /Payments, a 4xx elsewhere (the gateway may refuse
//     more than the document can say, never less);
//   - every answer must match the document, and on /Payments the answers
//     of its method (codes and data) and carry X-Request-Id equal to its
//     response_id;
//   - a path the document does not have must answer 404 or 405.
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []error {
	ctx := context.Background()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil
		}
		return []error{fmt.Errorf("%s %s is not in the document, and the gateway answered %d", req.Method, req.URL.Path, resp.StatusCode)}
	}
	in, reqErr := v.request(route, params, req, reqBody)

	var errs []error
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: respBody == nil},
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("answer %d to %s %s: %w", resp.StatusCode, req.Method, req.URL.Path, err))
	}
	accepted := resp.StatusCode < 400
	if route.Path == "/Payments" && isJSON(resp.Header) {
		status, err := v.checkPayments(reqBody, resp, respBody)
		if err != nil {
			errs = append(errs, err)
		}
		accepted = status
	}
	if reqErr != nil && accepted {
		errs = append(errs, fmt.Errorf("the gateway accepted %s %s, which the document rejects: %w\nrequest body: %s", req.Method, req.URL.Path, reqErr, reqBody))
	}
	return errs
}

// Request validates a request alone: nil if the document accepts it.
func (v *Validator) Request(req *http.Request, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s is not in the document", req.Method, req.URL.Path)
	}
	_, err = v.request(route, params, req, body)
	return err
}

func (v *Validator) request(route *routers.Route, params map[string]string, req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	// The gateway parses the body as JSON whatever Content-Type says
	// (contract §1); the document describes the JSON.
	if route.Path == "/Payments" {
		r.Header = r.Header.Clone()
		r.Header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// checkPayments checks a JSON answer of /Payments against the answers of
// the request's method and reports whether it was a success.
func (v *Validator) checkPayments(reqBody []byte, resp *http.Response, respBody []byte) (bool, error) {
	var env struct {
		Status     bool   `json:"status"`
		Code       string `json:"code"`
		ResponseID string `json:"response_id"`
	}
	if err := json.Unmarshal(respBody, &env); err != nil {
		return false, fmt.Errorf("/Payments answered something that is not an envelope: %v: %s", err, respBody)
	}
	if h := resp.Header.Get("X-Request-Id"); h != env.ResponseID {
		return env.Status, fmt.Errorf("/Payments: X-Request-Id %q differs from response_id %q", h, env.ResponseID)
	}
	var call struct {
		Method any `json:"method"`
	}
	json.Unmarshal(reqBody, &call)
	method, _ := call.Method.(string)
	schema, name := v.answers[method], method
	if schema == nil {
		schema, name = v.refusal, "a request of no known method"
	}
	var value any
	if err := json.Unmarshal(respBody, &value); err != nil {
		return env.Status, err
	}
	if err := schema.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
		return env.Status, fmt.Errorf("answer to %s (code %s) is not one of its documented answers: %w\nanswer: %s", name, env.Code, err, respBody)
	}
	return env.Status, nil
}

func isJSON(h http.Header) bool {
	t, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return t == "application/json"
}

// Transport returns a RoundTripper that sends through base and checks
// every exchange that report accepts: report returns the function that
// receives the mismatches of req (a test's Errorf), or false to let req
// pass unchecked (a server no test watches, a WebSocket upgrade).
//
// JSON answers are read whole before they are returned (they are small);
// other answers (a CSV export, a profile) are streamed to the caller
// unread and only their status and headers are checked, so streaming
// stays streaming.
func Transport(v *Validator, base http.RoundTripper, report func(req *http.Request) (func(error), bool)) http.RoundTripper {
	return roundTripper{v: v, base: base, report: report}
}

type roundTripper struct {
	v      *Validator
	base   http.RoundTripper
	report func(*http.Request) (func(error), bool)
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	fail, ok := t.report(req)
	if !ok || req.Header.Get("Upgrade") != "" {
		return t.base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	var respBody []byte
	if isJSON(resp.Header) {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if err != nil {
			// A broken answer is the caller's to see; there is nothing
			// whole to check.
			resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{err}))
			return resp, nil
		}
		respBody = b
	}
	for _, e := range t.v.Check(req, reqBody, resp, respBody) {
		fail(e)
	}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
