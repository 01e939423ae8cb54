package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/openapi"
	"github.com/posgate/posgate/openapi/openapitest"
	"github.com/posgate/posgate/protocol"
)

// schema is the part of a JSON Schema these checks read.
type schema struct {
	Ref        string             `json:"$ref"`
	Const      any                `json:"const"`
	Enum       []any              `json:"enum"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	OneOf      []*schema          `json:"oneOf"`
	Answer     string             `json:"x-answer"`
	Caller     string             `json:"x-caller"`
	Discr      *struct {
		Mapping map[string]string `json:"mapping"`
	} `json:"discriminator"`
}

func document(t *testing.T) map[string]*schema {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas
}

func resolve(schemas map[string]*schema, s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// TestOpenAPIMatchesMethods: the document has one request schema per
// method this package serves, no other, with the required fields the
// handler checks and the caller it allows; a method added, removed or
// given a new required field without its schema fails here.
func TestOpenAPIMatchesMethods(t *testing.T) {
	schemas := document(t)
	mapping := schemas["PaymentsRequest"].Discr.Mapping
	for name, m := range methods {
		ref, ok := mapping[name]
		if !ok {
			t.Errorf("%s is served but not in the document", name)
			continue
		}
		req := resolve(schemas, &schema{Ref: ref})
		if req.Properties["method"].Const != name {
			t.Errorf("%s: its schema's method is %v", name, req.Properties["method"].Const)
		}
		data := resolve(schemas, req.Properties["data"])
		got, want := slices.Sorted(slices.Values(data.Required)), slices.Sorted(slices.Values(m.required))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the document requires %v, the handler %v", name, got, want)
		}
		if caller := map[bool]string{true: "terminal", false: "cashier"}[m.pos]; req.Caller != caller {
			t.Errorf("%s: x-caller %q, want %q", name, req.Caller, caller)
		}
	}
	for name := range mapping {
		if _, ok := methods[name]; !ok {
			t.Errorf("%s is in the document but not served", name)
		}
	}
}

// TestOpenAPIMatchesCodes: the document's code list is protocol's, every
// code a method is documented to answer is one of them, and every code the
// error table can produce is documented for some method.
func TestOpenAPIMatchesCodes(t *testing.T) {
	schemas := document(t)
	var documented []string
	for _, c := range schemas["Code"].OneOf {
		documented = append(documented, c.Const.(string))
	}
	var known []string
	for _, c := range protocol.Codes() {
		known = append(known, string(c))
	}
	slices.Sort(documented)
	slices.Sort(known)
	if !slices.Equal(documented, known) {
		t.Errorf("the document's codes %v differ from protocol's %v", documented, known)
	}
	answered := map[string]bool{}
	for name, ref := range schemas["PaymentsRequest"].Discr.Mapping {
		answer := schemas[resolve(schemas, &schema{Ref: ref}).Answer]
		for _, branch := range answer.OneOf {
			for _, c := range branch.Properties["code"].Enum {
				answered[c.(string)] = true
				if !protocol.Code(c.(string)).Known() {
					t.Errorf("%s: code %v is not protocol's", name, c)
				}
			}
		}
	}
	for _, m := range codeByError {
		if !answered[string(m.code)] {
			t.Errorf("%s (for %v) is answered by no method in the document", m.code, m.err)
		}
	}
}

// TestOpenAPICurrencies: the document allows exactly the currencies
// posgate accepts.
func TestOpenAPICurrencies(t *testing.T) {
	var documented, supported []string
	for _, c := range document(t)["Currency"].Enum {
		documented = append(documented, c.(string))
	}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				if code := string([]rune{a, b, c}); checkCurrency(code) == nil {
					supported = append(supported, code)
				}
			}
		}
	}
	slices.Sort(documented)
	if !slices.Equal(documented, supported) {
		t.Errorf("the document allows %v, posgate %v", documented, supported)
	}
}

// TestNotificationsMatchTheDocument: the bodies notifications carry, for an
// order and for a refund, are what the document's webhooks describe.
func TestNotificationsMatchTheDocument(t *testing.T) {
	v, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1706771212, 0)
	o := posgate.Order{
		TradeID: "4a49ffb3-a30f-ba92-9422-1969afb6f121", TID: "T1", User: "T1", OrderID: "280244567856723026",
		Amount: 1250, TipAmount: 50, Currency: "EUR", Description: "YabandPay test", PayMethod: "offline",
		SubPayMethod: "point_of_sales", State: posgate.StatePaid, TransactionID: "ACQ1", CreatedAt: now, PaidAt: &now,
	}
	r := posgate.Refund{
		RefundID: "5b49ffb3-a30f-ba92-9422-1969afb6f121", TradeID: o.TradeID, User: "C1", Amount: 100, Currency: "EUR",
		Description: "x", State: posgate.RefundRefunded, CreatedAt: now, RefundedAt: &now,
	}
	p := Payloads{SimulatedAcquirer: true}
	for name, fields := range map[string]map[string]string{"orderNotification": p.Order(o), "refundNotification": p.Refund(r, o)} {
		body, err := protocol.Marshal(protocol.Notification{Sign: protocol.SignFields(strings.Repeat("ab", 32), fields), Data: fields})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Webhook(name, body); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
		}
	}
}
