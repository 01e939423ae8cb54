package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/api-reference.md from the document")

const referencePath = "../docs/api-reference.md"

// TestReference keeps docs/api-reference.md what the document says: it
// renders the page and fails if the committed one differs. After changing
// openapi.json, run go test ./openapi -run TestReference -update.
func TestReference(t *testing.T) {
	page, err := render(Document())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referencePath, page, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, page) {
		t.Errorf("%s is not what openapi.json says: run go test ./openapi -run TestReference -update", referencePath)
	}
}

// node is the part of the document the page shows.
type node struct {
	Ref         string           `json:"$ref"`
	Title       string           `json:"title"`
	Summary     string           `json:"summary"`
	Description string           `json:"description"`
	Type        any              `json:"type"`
	Const       any              `json:"const"`
	Enum        []any            `json:"enum"`
	Pattern     string           `json:"pattern"`
	Format      string           `json:"format"`
	MinLength   *int             `json:"minLength"`
	MaxLength   *int             `json:"maxLength"`
	Minimum     *float64         `json:"minimum"`
	Maximum     *float64         `json:"maximum"`
	Default     any              `json:"default"`
	Required    []string         `json:"required"`
	Properties  map[string]*node `json:"properties"`
	Items       *node            `json:"items"`
	OneOf       []*node          `json:"oneOf"`
	Answer      string           `json:"x-answer"`
	Caller      string           `json:"x-caller"`
	// operations and parameters
	Parameters  []parameter      `json:"parameters"`
	Responses   map[string]*node `json:"responses"`
	Security    []any            `json:"security"`
	Schema      *node            `json:"schema"`
	Content     map[string]*node `json:"content"`
	RequestBody *node            `json:"requestBody"`
}

type parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Required    bool   `json:"required"`
	Description string `json:"description"`
	Schema      *node  `json:"schema"`
}

type spec struct {
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
	Webhooks map[string]map[string]*node           `json:"webhooks"`
	Comps    struct {
		Schemas map[string]*node `json:"schemas"`
	} `json:"components"`
}

type renderer struct {
	doc spec
	b   bytes.Buffer
}

func render(raw []byte) ([]byte, error) {
	r := &renderer{}
	if err := json.Unmarshal(raw, &r.doc); err != nil {
		return nil, err
	}
	r.page()
	return r.b.Bytes(), nil
}

type example struct {
	Summary string         `json:"summary"`
	Value   map[string]any `json:"value"`
}

// examples are the request examples of /Payments by method.
func (r *renderer) examples() map[string]example {
	var op struct {
		RequestBody struct {
			Content map[string]struct {
				Examples map[string]example `json:"examples"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	if err := json.Unmarshal(r.doc.Paths["/Payments"]["post"], &op); err != nil {
		panic(err)
	}
	out := map[string]example{}
	for _, ex := range op.RequestBody.Content["application/json"].Examples {
		out[ex.Value["method"].(string)] = ex
	}
	return out
}

func (r *renderer) p(format string, args ...any) { fmt.Fprintf(&r.b, format+"\n", args...) }

func (r *renderer) schema(name string) *node { return r.doc.Comps.Schemas[name] }

// resolve follows $ref; a description beside the $ref wins over the
// target's.
func (r *renderer) resolve(n *node) *node {
	if n == nil || n.Ref == "" {
		return n
	}
	target := *r.resolve(r.schema(strings.TrimPrefix(n.Ref, "#/components/schemas/")))
	if n.Description != "" {
		target.Description = n.Description
	}
	return &target
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func code(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if str, ok := v.(string); ok {
		s = str
	}
	return "`" + s + "`"
}

// format says in a few words what values n allows. An object of the
// document's components is a link to its table.
func (r *renderer) format(n *node) string {
	if n != nil && n.Ref != "" {
		name := strings.TrimPrefix(n.Ref, "#/components/schemas/")
		if r.schema(name).Properties != nil {
			return "[" + name + "](#" + strings.ToLower(name) + ")"
		}
	}
	n = r.resolve(n)
	if n.Properties != nil && n.Type == "object" && len(n.Properties) <= 2 {
		var fs []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range n.Properties {
				if !yield(k) {
					return
				}
			}
		}) {
			fs = append(fs, "`"+k+"`: "+r.format(n.Properties[k]))
		}
		return "object with " + strings.Join(fs, ", ")
	}
	var parts []string
	switch {
	case n.Const != nil:
		return "exactly " + code(n.Const)
	case len(n.Enum) > 0:
		var vs []string
		for _, v := range n.Enum {
			vs = append(vs, code(v))
		}
		return "one of " + strings.Join(vs, ", ")
	case len(n.OneOf) > 0:
		var vs []string
		for _, o := range n.OneOf {
			vs = append(vs, r.format(o))
		}
		return strings.Join(vs, " or ")
	}
	switch t := n.Type.(type) {
	case string:
		parts = append(parts, t)
	case []any:
		var ts []string
		for _, x := range t {
			ts = append(ts, x.(string))
		}
		parts = append(parts, strings.Join(ts, " or "))
	}
	if n.Items != nil {
		parts = append(parts, "of "+r.format(n.Items))
	}
	if n.Format != "" {
		parts = append(parts, n.Format)
	}
	if n.Pattern != "" {
		parts = append(parts, "`"+n.Pattern+"`")
	}
	if n.MinLength != nil && n.MaxLength != nil {
		parts = append(parts, fmt.Sprintf("%d to %d characters", *n.MinLength, *n.MaxLength))
	} else if n.MaxLength != nil {
		parts = append(parts, fmt.Sprintf("at most %d characters", *n.MaxLength))
	}
	if n.Minimum != nil && n.Maximum != nil {
		parts = append(parts, fmt.Sprintf("%g to %g", *n.Minimum, *n.Maximum))
	}
	if n.Default != nil {
		parts = append(parts, "default "+code(n.Default))
	}
	return strings.Join(parts, ", ")
}

// fields prints the table of an object's fields: required ones first in
// the document's order, then the others by name.
func (r *renderer) fields(obj *node) {
	obj = r.resolve(obj)
	r.p("| field | required | values | meaning |")
	r.p("|---|---|---|---|")
	names := slices.Clone(obj.Required)
	var optional []string
	for name := range obj.Properties {
		if !slices.Contains(names, name) {
			optional = append(optional, name)
		}
	}
	slices.Sort(optional)
	for _, name := range append(names, optional...) {
		f := obj.Properties[name]
		if f == nil {
			continue
		}
		req := ""
		if slices.Contains(obj.Required, name) {
			req = "yes"
		}
		r.p("| `%s` | %s | %s | %s |", name, req, cell(r.format(f)), cell(r.resolve(f).Description))
	}
	r.p("")
}

func (r *renderer) page() {
	r.p("# API reference")
	r.p("")
	r.p("<!-- Generated from openapi/openapi.json by `go test ./openapi -run TestReference -update`; do not edit. -->")
	r.p("")
	r.p("Generated from the OpenAPI 3.1 document [`openapi/openapi.json`](../openapi/openapi.json), which the")
	r.p("gateway serves at `GET /openapi.json` and which every end-to-end test checks each request and answer")
	r.p("against. The decisions behind it are in [api.md](api.md).")
	r.p("")
	r.p("## POST /Payments")
	r.p("")
	r.p("Every method shares one endpoint. The body is a JSON object:")
	r.p("")
	pay := r.schema("PaymentsRequest")
	first := r.resolve(pay.OneOf[0])
	env := *first
	env.Properties = map[string]*node{}
	for k, v := range first.Properties {
		env.Properties[k] = v
	}
	env.Properties["user"] = &node{Ref: "#/components/schemas/User"}
	env.Properties["method"] = &node{Type: "string", Description: "The method, below."}
	env.Properties["data"] = &node{Type: "object", Description: "The method's fields, below: strings. Unknown fields are accepted, signed and ignored; nested objects and arrays are refused."}
	r.fields(&env)
	r.p("The answer is the envelope `{\"status\",\"code\",\"data\",\"message\",\"response_id\"}`, HTTP 200 (413 for a body")
	r.p("over 64 KiB), with the header `X-Request-Id` equal to `response_id`. `code` is always a string.")
	r.p("")
	r.p("| method | caller | required fields |")
	r.p("|---|---|---|")
	for _, ref := range pay.OneOf {
		m := r.resolve(ref)
		name := m.Properties["method"].Const.(string)
		data := r.resolve(m.Properties["data"])
		r.p("| [`%s`](#%s) | %s | %s |", name, strings.ReplaceAll(strings.ToLower(name), ".", ""), m.Caller, cell("`"+strings.Join(data.Required, "`, `")+"`"))
	}
	r.p("")
	meaning := map[string]string{}
	r.p("### Codes")
	r.p("")
	r.p("%s", r.schema("Code").Description)
	r.p("")
	r.p("| code | meaning |")
	r.p("|---|---|")
	for _, c := range r.schema("Code").OneOf {
		meaning[c.Const.(string)] = c.Description
		r.p("| `%s` | %s |", c.Const, cell(c.Description))
	}
	r.p("")
	var early []string
	for _, c := range r.schema("Refusal").Properties["code"].Enum {
		early = append(early, "`"+c.(string)+"`")
	}
	r.p("A request refused before its method is known (not an envelope, an unknown method, authentication,")
	r.p("time, rate limit) is answered %s with `data` null. Each method's own codes follow.", strings.Join(early, ", "))
	r.p("")
	for _, ref := range pay.OneOf {
		m := r.resolve(ref)
		name := m.Properties["method"].Const.(string)
		r.p("### %s", name)
		r.p("")
		r.p("%s", m.Description)
		r.p("")
		r.p("`user`: %s", r.resolve(m.Properties["user"]).Description)
		r.p("")
		r.p("`data`:")
		r.p("")
		r.fields(m.Properties["data"])
		if ex, ok := r.examples()[name]; ok {
			body, _ := json.MarshalIndent(ex.Value, "", "  ")
			r.p("Example: %s.", ex.Summary)
			r.p("")
			r.p("```json")
			r.p("%s", body)
			r.p("```")
			r.p("")
		}
		answer := r.schema(m.Answer)
		r.p("Answer: %s", answer.Description)
		r.p("")
		r.p("| code | data | meaning |")
		r.p("|---|---|---|")
		rows := map[string]string{}
		for _, branch := range answer.OneOf {
			data := cell(r.format(branch.Properties["data"]))
			c := branch.Properties["code"]
			for _, v := range append(c.Enum, c.Const) {
				if v != nil {
					rows[v.(string)] = fmt.Sprintf("| `%s` | %s | %s |", v, data, cell(meaning[v.(string)]))
				}
			}
		}
		for _, c := range r.schema("Code").OneOf {
			if row, ok := rows[c.Const.(string)]; ok {
				r.p("%s", row)
			}
		}
		r.p("")
	}
	for _, name := range []string{"Order", "Transaction", "Refund"} {
		s := r.schema(name)
		r.p("### %s", name)
		r.p("")
		r.p("%s", s.Description)
		r.p("")
		r.fields(s)
	}
	r.p("## Notifications")
	r.p("")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.doc.Webhooks {
			if !yield(k) {
				return
			}
		}
	}) {
		op := r.doc.Webhooks[name]["post"]
		r.p("- **%s** (%s): %s", name, op.Summary, op.Description)
	}
	r.p("")
	r.p("## Other routes")
	r.p("")
	r.p("The operator API needs `Authorization: Bearer <admin token>`; without it every route answers 401.")
	r.p("")
	r.p("| route | what | parameters | answers |")
	r.p("|---|---|---|---|")
	paths := slices.Sorted(func(yield func(string) bool) {
		for k := range r.doc.Paths {
			if !yield(k) {
				return
			}
		}
	})
	for _, path := range paths {
		if path == "/Payments" {
			continue
		}
		item := r.doc.Paths[path]
		var shared []parameter
		if raw, ok := item["parameters"]; ok {
			json.Unmarshal(raw, &shared)
		}
		for _, method := range []string{"get", "post"} {
			raw, ok := item[method]
			if !ok {
				continue
			}
			var op node
			if err := json.Unmarshal(raw, &op); err != nil {
				panic(err)
			}
			var params []string
			for _, p := range append(shared, op.Parameters...) {
				params = append(params, fmt.Sprintf("`%s` (%s; %s): %s", p.Name, p.In, r.format(p.Schema), p.Description))
			}
			statuses := slices.Sorted(func(yield func(string) bool) {
				for k := range op.Responses {
					if !yield(k) {
						return
					}
				}
			})
			var answers []string
			for _, s := range statuses {
				answers = append(answers, s+" "+strings.TrimSuffix(op.Responses[s].Description, "."))
			}
			what := op.Summary
			if op.Description != "" {
				what += ": " + op.Description
			}
			r.p("| `%s %s` | %s | %s | %s |", strings.ToUpper(method), path, cell(what), cell(strings.Join(params, "<br>")), cell(strings.Join(answers, "; ")))
		}
	}
	r.p("")
	r.p("The operator API's objects (terminals, orders with their timeline, notifications) are")
	r.p("`Terminal`, `AdminOrder`, `OrderTimeline`, `TimelineEntry` and `AdminNotification` in the document;")
	r.p("fields may be added to every answer and notification: ignore those you do not know.")
}
