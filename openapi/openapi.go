// Package openapi holds posgate's OpenAPI 3.1 document: POST /Payments
// with one schema per method, the operator API under /admin/v1, the
// probes, and the notifications as webhooks.
//
// The document is hand-written JSON, embedded as it is and served as it is
// at GET /openapi.json: what a client downloads is byte for byte the file
// the tests validate every end-to-end request and answer against, so it
// cannot drift from the gateway without failing them. JSON rather than
// YAML keeps a YAML parser out of the gateway and any conversion out of
// the path between the file and the wire.
package openapi

import _ "embed"

// Path is where the gateway serves the document.
const Path = "/openapi.json"

//go:embed openapi.json
var document []byte

// Document returns the document's bytes (a copy: callers cannot change
// what the gateway serves).
func Document() []byte { return append([]byte(nil), document...) }
