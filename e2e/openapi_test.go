package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/openapi"
	"github.com/posgate/posgate/openapi/openapitest"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/termproto"
)

// The end-to-end tests are checked against the OpenAPI document: every
// request a test sends to a gateway started by start, and every answer,
// through the SDK or a raw net/http call, must match it (openapitest.Check
// says exactly what that means), or the test fails. Go's default transport
// is wrapped once for the whole package, so a new test is checked without
// asking; each exchange is reported to the test that started the gateway
// it went to. Clients with their own transport (the benchmarks, the TLS
// tests) and what the document does not describe (the console's pages,
// the terminals' WebSocket) are not checked. http.DefaultTransport is
// therefore no *http.Transport in this package's tests: code run here that
// needs one builds its own.

var apiDocument = func() *openapitest.Validator {
	v, err := openapitest.Load()
	if err != nil {
		panic("e2e: the OpenAPI document does not load: " + err.Error())
	}
	return v
}()

// watched maps a gateway's host:port to the test that started it.
var watched struct {
	sync.Mutex
	tests map[string]*testing.T
}

// plainTransport is Go's default transport, unchecked.
var plainTransport = http.DefaultTransport

func init() {
	http.DefaultTransport = openapitest.Transport(apiDocument, plainTransport, reportTo)
}

// watchAPI checks the exchanges with the gateway at base for t until t
// ends. Benchmarks are not checked: validation would be part of what they
// measure.
func watchAPI(t testing.TB, base string) {
	tt, ok := t.(*testing.T)
	if !ok {
		return
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	watched.Lock()
	if watched.tests == nil {
		watched.tests = map[string]*testing.T{}
	}
	watched.tests[u.Host] = tt
	watched.Unlock()
	t.Cleanup(func() {
		watched.Lock()
		delete(watched.tests, u.Host)
		watched.Unlock()
	})
}

func reportTo(req *http.Request) (func(error), bool) {
	if strings.HasPrefix(req.URL.Path, "/console") || req.URL.Path == termproto.Path {
		return nil, false
	}
	watched.Lock()
	t, ok := watched.tests[req.URL.Host]
	watched.Unlock()
	if !ok {
		return nil, false
	}
	return func(err error) { t.Errorf("OpenAPI document and gateway disagree: %v", err) }, true
}

// collector gathers what a validator reports, for the tests below that
// expect mismatches instead of failing on them.
type collector struct {
	mu   sync.Mutex
	errs []string
}

func (c *collector) client(v *openapitest.Validator) *http.Client {
	return &http.Client{Transport: openapitest.Transport(v, plainTransport, func(*http.Request) (func(error), bool) {
		return func(err error) { c.mu.Lock(); c.errs = append(c.errs, err.Error()); c.mu.Unlock() }, true
	})}
}

func (c *collector) reported() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// signedAny is signed with data values of any JSON type, as a client
// that does not follow the document may send them.
func signedAny(user, secret, method string, unix int64, data map[string]any) []byte {
	fields := map[string]string{"user": user, "method": method, "time": strconv.FormatInt(unix, 10)}
	for k, v := range data {
		b, _ := json.Marshal(v)
		fields[k] = strings.Trim(string(b), `"`)
	}
	body, _ := json.Marshal(map[string]any{
		"user": user, "method": method, "time": unix, "sign": protocol.Sign(secret, protocol.StringToSign(fields)), "data": data,
	})
	return body
}

func post(t *testing.T, c *http.Client, url string, body []byte) protocol.Response {
	t.Helper()
	resp, err := c.Post(url+"/Payments", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var env protocol.Response
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	return env
}

// The gateway serves the document the tests check against, byte for byte,
// and it is a valid OpenAPI 3.1 document.
func TestOpenAPIDocumentServed(t *testing.T) {
	g := start(t)
	resp, err := http.Get(g.URL + openapi.Path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, openapi.Document(), body)
	_, err = openapitest.New(body)
	require.NoError(t, err)
}

// A request the document rejects is caught: refused by the gateway, it
// is no mismatch (the gateway may be stricter than the document); accepted
// by it, it is one. Here the amount is a JSON number: the gateway signs it
// as written and accepts it, the document asks for a string.
func TestOpenAPIValidatorCatchesAnAcceptedUndocumentedRequest(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	g.connect("T1", secret)
	now := g.Clock.Now().Unix()
	var got collector
	c := got.client(apiDocument)

	wrong := map[string]any{}
	for k, v := range saleData("T1", "12.50") {
		wrong[k] = v
	}
	wrong["pay_method"] = "online"
	body := signedAny("T1", secret, "v3.POS", now, wrong)
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/Payments", bytes.NewReader(body))
	require.ErrorContains(t, apiDocument.Request(req, body), "pay_method")
	env := post(t, c, g.URL, body)
	require.Equal(t, protocol.CodeInvalidField, env.Code)
	require.Empty(t, got.reported(), "a refused request the document rejects is no mismatch")

	wrong["pay_method"] = "offline"
	wrong["amount"] = json.Number("12.50")
	env = post(t, c, g.URL, signedAny("T1", secret, "v3.POS", now, wrong))
	require.True(t, env.Status, "%s %s", env.Code, env.Message)
	errs := got.reported()
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "the gateway accepted POST /Payments, which the document rejects")
	require.Contains(t, errs[0], "amount")
}

// An answer the document does not list for its method is caught: with a
// document that forgot that v3.QueryOrder can answer -4114, asking for an
// unknown order is a mismatch, and a documented answer is not.
func TestOpenAPIValidatorCatchesAnUndocumentedAnswer(t *testing.T) {
	g := start(t)
	secret := g.addCashier("Shop A", "C1")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openapi.Document(), &doc))
	answer := doc["components"].(map[string]any)["schemas"].(map[string]any)["QueryOrderAnswer"].(map[string]any)
	failure := answer["oneOf"].([]any)[1].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)
	var codes []any
	for _, c := range failure["enum"].([]any) {
		if c != string(protocol.CodeTradeNotFound) {
			codes = append(codes, c)
		}
	}
	require.Len(t, codes, len(failure["enum"].([]any))-1)
	failure["enum"] = codes
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	forgetful, err := openapitest.New(raw)
	require.NoError(t, err)

	var got collector
	c := got.client(forgetful)
	now := g.Clock.Now().Unix()
	env := post(t, c, g.URL, signed("C1", secret, "v3.QueryOrder", now, map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"}))
	require.Equal(t, protocol.CodeTradeNotFound, env.Code)
	errs := got.reported()
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "answer to v3.QueryOrder (code -4114) is not one of its documented answers")

	// The real document lists it.
	var real collector
	post(t, real.client(apiDocument), g.URL, signed("C1", secret, "v3.QueryOrder", now, map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"}))
	require.Empty(t, real.reported())
}

// Every gateway a test starts is watched, and what the document does not
// describe is let through: the check cannot be switched off by accident.
func TestOpenAPICheckIsOnForEveryGateway(t *testing.T) {
	g := start(t)
	for path, checked := range map[string]bool{"/Payments": true, "/admin/v1/orders": true, "/console": false, "/console/": false, termproto.Path: false} {
		req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
		require.NoError(t, err)
		_, ok := reportTo(req)
		require.Equal(t, checked, ok, path)
	}
	_, ok := http.DefaultTransport.(*http.Transport)
	require.False(t, ok, "the default transport is not wrapped")
}
