package openapitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/posgate/posgate/protocol"
)

const (
	responseID = "202407111550570060848432"
	tradeID    = "4a49ffb3-a30f-ba92-9422-1969afb6f121"
	sign       = "81617629b3f26a88ec7cdf8f4b989fa0368d40be34969af3958cbcb94289c544"
	order      = `{"type":"payment","user":"T1","amount":"12.50","currency":"EUR","trade_id":"` + tradeID + `","description":"x","order_id":"1","createDate":"1706771212","demo":"","transaction_id":"","state":"processing"}`
)

func envelope(method, data string) string {
	return `{"user":"T1","sign":"` + sign + `","method":"` + method + `","time":1555498137,"data":` + data + `}`
}

const sale = `{"pay_method":"offline","sub_pay_method":"point_of_sales","operation":"1","tid":"T1","order_id":"2025","amount":"12.50","currency":"EUR","description":"YabandPay test","notify_url":"https://merchant.example/notify","request_id":"r1"}`

// TestCheck runs exchanges past the document without a gateway: each case
// is what a gateway answered to a request, and what must be reported.
func TestCheck(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	answer := func(status, code, data string) string {
		msg := ""
		if status == "false" {
			msg = "refused"
		}
		return `{"status":` + status + `,"code":"` + code + `","data":` + data + `,"message":"` + msg + `","response_id":"` + responseID + `"}`
	}
	cases := []struct {
		name, method, path, req string
		status                  int
		resp                    string
		want                    string // a part of the one mismatch; empty: none
	}{
		{"a sale and its order", "POST", "/Payments", envelope("v3.POS", sale), 200, answer("true", "200", order), ""},
		{"fields added to an answer are allowed", "POST", "/Payments", envelope("v3.POS", sale), 200,
			answer("true", "200", strings.Replace(order, `"state"`, `"card_brand":"VISA","state"`, 1)), ""},
		{"unknown scalar fields in a request are allowed", "POST", "/Payments", envelope("v3.POS", strings.Replace(sale, `{`, `{"extra":"1",`, 1)), 200, answer("true", "200", order), ""},
		{"an order without its trade_id", "POST", "/Payments", envelope("v3.POS", sale), 200,
			answer("true", "200", strings.Replace(order, `"trade_id":"`+tradeID+`",`, "", 1)), "not one of its documented answers"},
		{"a state no order has", "POST", "/Payments", envelope("v3.POS", sale), 200,
			answer("true", "200", strings.Replace(order, "processing", "verify", 1)), "not one of its documented answers"},
		{"a code the method never answers", "POST", "/Payments", envelope("v3.POS", sale), 200, answer("false", "-4301", "null"), "(code -4301) is not one of its documented answers"},
		{"a refusal of a wrong request", "POST", "/Payments", envelope("v3.POS", strings.Replace(sale, `"offline"`, `"online"`, 1)), 200, answer("false", "-3003", "null"), ""},
		{"a success to a wrong request", "POST", "/Payments", envelope("v3.POS", strings.Replace(sale, `"offline"`, `"online"`, 1)), 200, answer("true", "200", order), "which the document rejects"},
		{"a success to a request missing a field", "POST", "/Payments", envelope("v3.CancelPayment", `{}`), 200, answer("true", "200", order), "missing property 'trade_id'"},
		{"an unknown method", "POST", "/Payments", envelope("v3.Nope", `{}`), 200, answer("false", "-1004", "null"), ""},
		{"not JSON", "POST", "/Payments", "hello", 200, answer("false", "-1005", "null"), ""},
		{"a refusal of a body that is no envelope, with data", "POST", "/Payments", "hello", 200, answer("false", "-1005", order), "a request of no known method"},
		{"a body over the limit", "POST", "/Payments", "hello", 413, answer("false", "-1005", "null"), ""},
		{"an undocumented status", "POST", "/Payments", envelope("v3.POS", sale), 500, answer("false", "-5000", "null"), "500"},
		{"readyz", "GET", "/readyz", "", 200, `{"status":"ready","acquirer":"simulated"}`, ""},
		{"readyz with another acquirer", "GET", "/readyz", "", 200, `{"status":"ready","acquirer":"real"}`, "acquirer"},
		{"an admin 404", "GET", "/admin/v1/orders/x", "", 404, `{"error":"no such order"}`, ""},
		{"an admin filter the document rejects", "GET", "/admin/v1/orders?limit=0", "", 200, `{"orders":[]}`, "which the document rejects"},
		{"an admin filter refused", "GET", "/admin/v1/orders?limit=0", "", 400, `{"error":"limit must be 1 to 1000"}`, ""},
		{"an unknown path answered 404", "GET", "/nope", "", 404, "", ""},
		{"an unknown path answered 200", "GET", "/nope", "", 200, "", "is not in the document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://gateway"+c.path, bytes.NewReader([]byte(c.req)))
			resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {responseID}}}
			var body []byte
			if c.resp != "" {
				body = []byte(c.resp)
			} else {
				resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
			}
			errs := v.Check(req, []byte(c.req), resp, body)
			switch {
			case c.want == "" && len(errs) > 0:
				t.Errorf("reported %v", errs)
			case c.want != "" && len(errs) != 1:
				t.Errorf("want one mismatch with %q, got %v", c.want, errs)
			case c.want != "" && !strings.Contains(errs[0].Error(), c.want):
				t.Errorf("want a mismatch with %q, got %v", c.want, errs[0])
			}
		})
	}
}

// A document that is not OpenAPI 3.1, or whose methods name no answers,
// is refused before any exchange is checked.
func TestNewRefusesIncompleteDocuments(t *testing.T) {
	for name, raw := range map[string]string{
		"3.0":        `{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{}}`,
		"no methods": `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{}}`,
	} {
		if _, err := New([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestExamples: every request example of the document is one the
// document accepts and the gateway's decoder reads; those signed with
// protocol's test vector key verify (the others carry YabandPay's
// signatures, made with a secret that is not published).
func TestExamples(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	examples := v.doc.Paths.Value("/Payments").Post.RequestBody.Value.Content["application/json"].Examples
	if len(examples) < 5 {
		t.Fatalf("%d examples", len(examples))
	}
	for name, ex := range examples {
		body, err := json.Marshal(ex.Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", "http://gateway/Payments", bytes.NewReader(body))
		if err := v.Request(req, body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		r, err := protocol.DecodeRequest(body)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(ex.Value.Summary, "test vector key") && !protocol.Verify(vectorKey, r.StringToSign(), r.Sign) {
			t.Errorf("%s: the signature does not verify", name)
		}
	}
}

// vectorKey is protocol's test vector key (protocol/sign_test.go).
const vectorKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// BenchmarkCheck is what checking costs each end-to-end exchange: a
// refused v3.QueryOrder, its request and its answer.
func BenchmarkCheck(b *testing.B) {
	v, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(envelope("v3.QueryOrder", `{"trade_id":"`+tradeID+`"}`))
	answer := []byte(`{"status":false,"code":"-4114","data":null,"message":"x","response_id":"` + responseID + `"}`)
	header := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {responseID}}
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://gateway/Payments", bytes.NewReader(body))
		if errs := v.Check(req, body, &http.Response{StatusCode: 200, Header: header}, answer); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
