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
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/posgate/posgate/openapi"
)

// Validator checks exchanges against one document. kin-openapi loads and
// validates the document, finds routes and checks parameters, headers and
// statuses; bodies are checked with the JSON Schema 2020-12 engine that
// kin-openapi itself uses for OpenAPI 3.1 (santhosh-tekuri/jsonschema),
// with every schema compiled once here: kin-openapi compiles the schema
// again on each validation, about 100 ms an exchange for this document on
// a shared 2-core machine, which would change what timing-sensitive
// end-to-end tests see.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// bodies holds the compiled schema at each JSON pointer of the
	// document that describes a body.
	bodies map[string]*jsonschema.Schema
	// requests maps each v3 method to its request schema (the
	// discriminator's mapping), answers to the schema of its answers (the
	// request schema's x-answer); refusal is the answer to a request whose
	// method is not known.
	requests map[string]*jsonschema.Schema
	answers  map[string]*jsonschema.Schema
	refusal  *jsonschema.Schema
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
	v := &Validator{doc: doc, router: router, bodies: map[string]*jsonschema.Schema{},
		requests: map[string]*jsonschema.Schema{}, answers: map[string]*jsonschema.Schema{}}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.AssertFormat()
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	const base = "urn:posgate:openapi.json"
	if err := compiler.AddResource(base, tree); err != nil {
		return nil, err
	}
	compile := func(ptr string) (*jsonschema.Schema, error) {
		s, err := compiler.Compile(base + "#" + ptr)
		if err != nil {
			return nil, fmt.Errorf("schema at %s: %w", ptr, err)
		}
		return s, nil
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := "/paths/" + escape(path) + "/" + strings.ToLower(method)
			if op.RequestBody != nil {
				for mt := range op.RequestBody.Value.Content {
					if err := v.compileBody(compile, at+"/requestBody/content/"+escape(mt)+"/schema"); err != nil {
						return nil, err
					}
				}
			}
			for status, r := range op.Responses.Map() {
				for mt := range r.Value.Content {
					if err := v.compileBody(compile, at+"/responses/"+status+"/content/"+escape(mt)+"/schema"); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if doc.Components == nil {
		return nil, errors.New("the document has no components")
	}
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
		if v.requests[method], err = compile("/components/schemas/" + escape(name)); err != nil {
			return nil, err
		}
		if v.answers[method], err = compile("/components/schemas/" + escape(answer)); err != nil {
			return nil, err
		}
	}
	if v.refusal, err = compile("/components/schemas/Refusal"); err != nil {
		return nil, err
	}
	for name, item := range doc.Webhooks {
		if item.Post != nil && item.Post.RequestBody != nil {
			if err := v.compileBody(compile, "/webhooks/"+escape(name)+"/post/requestBody/content/application~1json/schema"); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// Webhook validates the body of a notification against the webhook name
// (orderNotification, refundNotification).
func (v *Validator) Webhook(name string, body []byte) error {
	ptr := "/webhooks/" + escape(name) + "/post/requestBody/content/application~1json/schema"
	if v.bodies[ptr] == nil {
		return fmt.Errorf("the document has no webhook %s", name)
	}
	return v.body(ptr, body)
}

func (v *Validator) compileBody(compile func(string) (*jsonschema.Schema, error), ptr string) error {
	s, err := compile(ptr)
	v.bodies[ptr] = s
	return err
}

// escape makes s one token of a JSON pointer (RFC 6901).
func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// body validates a JSON body against the schema at ptr, if the document
// has one there.
func (v *Validator) body(ptr string, raw []byte) error {
	s := v.bodies[ptr]
	if s == nil {
		return nil
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return s.Validate(value)
}

func pointer(route *routers.Route) string {
	return "/paths/" + escape(route.Path) + "/" + strings.ToLower(route.Method)
}

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
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("answer %d to %s %s: %w", resp.StatusCode, req.Method, req.URL.Path, err))
	}
	// A JSON answer of /Payments is checked against the answers of its
	// method below; they are a part of what the operation lists.
	payments := route.Path == "/Payments" && isJSON(resp.Header) && resp.StatusCode == http.StatusOK
	if respBody != nil && !payments && route.Operation.Responses.Status(resp.StatusCode) != nil {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		ptr := pointer(route) + "/responses/" + strconv.Itoa(resp.StatusCode) + "/content/" + escape(mt) + "/schema"
		if _, ok := v.bodies[ptr]; !ok {
			errs = append(errs, fmt.Errorf("answer %d to %s %s: the document has no %s body for it", resp.StatusCode, req.Method, req.URL.Path, mt))
		} else if err := v.body(ptr, respBody); err != nil {
			errs = append(errs, fmt.Errorf("answer %d to %s %s: %w\nanswer: %s", resp.StatusCode, req.Method, req.URL.Path, err, respBody))
		}
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
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, ExcludeRequestBody: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return in, err
	}
	if route.Operation.RequestBody == nil {
		return in, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ptr := pointer(route) + "/requestBody/content/" + escape(mt) + "/schema"
	if _, ok := v.bodies[ptr]; !ok {
		return in, fmt.Errorf("the document has no %q request body for %s %s", mt, req.Method, route.Path)
	}
	if route.Path == "/Payments" {
		// The discriminator: the method's own schema, whose errors name
		// its fields, rather than every method's.
		var call struct {
			Method any `json:"method"`
		}
		if json.Unmarshal(body, &call) == nil {
			m, _ := call.Method.(string)
			if s := v.requests[m]; s != nil {
				value, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
				return in, s.Validate(value)
			}
			return in, fmt.Errorf("method %v is none of the document's", call.Method)
		}
	}
	return in, v.body(ptr, body)
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
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(respBody))
	if err != nil {
		return env.Status, err
	}
	if err := schema.Validate(value); err != nil {
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
