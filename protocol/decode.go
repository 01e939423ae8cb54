package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxBodyBytes is the largest request body posgate reads.
const MaxBodyBytes = 64 << 10

// Request is a decoded request envelope. Every value is kept as the string
// the signature covers: strings raw, numbers exactly as written, true as
// "1", false and null as "".
type Request struct {
	User   string
	Sign   string
	Method string
	Time   string
	// Top holds every top-level field except sign and data.
	Top map[string]string
	// Data holds the fields of the data object.
	Data map[string]string
}

// SignedFields is the set the signature covers: Top merged with Data.
func (r *Request) SignedFields() map[string]string {
	m := make(map[string]string, len(r.Top)+len(r.Data))
	for k, v := range r.Top {
		m[k] = v
	}
	for k, v := range r.Data {
		m[k] = v
	}
	return m
}

// StringToSign is the string the request's sign must cover.
func (r *Request) StringToSign() string { return StringToSign(r.SignedFields()) }

// Error is a protocol failure: a code and an English message safe to show
// the caller.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Msg }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code carried by err, or CodeInternal.
func ErrorCode(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeInternal
}

// DecodeRequest parses a request body strictly: the body must be one JSON
// object; data, when present, an object of scalars; no key may repeat or
// differ only in case from another key (across both levels, since the
// signature merges them; "data" and "sign" included); keys are letters,
// digits and '_'; no value may contain '&' followed by a name and '=' (that
// would make two different requests sign the same string). Failures are
// *Error with CodeBadEnvelope or CodeInvalidField.
func DecodeRequest(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, Errorf(CodeBadEnvelope, "body is not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, Errorf(CodeBadEnvelope, "body must be a JSON object")
	}
	r := &Request{Top: map[string]string{}, Data: map[string]string{}}
	seen := map[string]string{} // lower-case key -> key as sent, over both levels
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		// "data" goes through checkKey too: a top-level "Data" beside it is
		// a case twin that a case-insensitive decoder downstream could take
		// for the data object.
		if err := checkKey(key, seen); err != nil {
			return nil, err
		}
		if key == "data" {
			if err := r.readData(dec, seen); err != nil {
				return nil, err
			}
			continue
		}
		val, err := readScalar(dec, key)
		if err != nil {
			return nil, err
		}
		if key == "sign" {
			r.Sign = val
			continue
		}
		r.Top[key] = val
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, Errorf(CodeBadEnvelope, "body is not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(CodeBadEnvelope, "trailing data after the JSON object")
	}
	r.User, r.Method, r.Time = r.Top["user"], r.Top["method"], r.Top["time"]
	for k, v := range r.SignedFields() {
		if ambiguous(v) {
			return nil, Errorf(CodeInvalidField, "field %q contains '&name=' which would make the signature ambiguous", k)
		}
	}
	return r, nil
}

func (r *Request) readData(dec *json.Decoder, seen map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return Errorf(CodeBadEnvelope, "body is not JSON")
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Errorf(CodeBadEnvelope, "data must be a JSON object")
	}
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return err
		}
		if err := checkKey(key, seen); err != nil {
			return err
		}
		val, err := readScalar(dec, key)
		if err != nil {
			return err
		}
		r.Data[key] = val
	}
	if _, err := dec.Token(); err != nil {
		return Errorf(CodeBadEnvelope, "body is not JSON")
	}
	return nil
}

func readKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", Errorf(CodeBadEnvelope, "body is not JSON")
	}
	key, ok := tok.(string)
	if !ok {
		return "", Errorf(CodeBadEnvelope, "body is not JSON")
	}
	return key, nil
}

func checkKey(key string, seen map[string]string) error {
	if !isName(key) {
		return Errorf(CodeInvalidField, "field name %q: only letters, digits and '_' are allowed", key)
	}
	lk := strings.ToLower(key)
	if prev, ok := seen[lk]; ok {
		if prev == key {
			return Errorf(CodeInvalidField, "duplicate key %q", key)
		}
		return Errorf(CodeInvalidField, "keys %q and %q differ only in case", prev, key)
	}
	seen[lk] = key
	return nil
}

// readScalar renders the next value as the signature sees it.
func readScalar(dec *json.Decoder, key string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", Errorf(CodeBadEnvelope, "body is not JSON")
	}
	switch v := tok.(type) {
	case string:
		return v, nil
	case json.Number:
		return string(v), nil
	case bool:
		if v {
			return "1", nil
		}
		return "", nil
	case nil:
		return "", nil
	default: // json.Delim: an object or array
		return "", Errorf(CodeInvalidField, "field %q must be a string, number, boolean or null, not a nested object or array", key)
	}
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ambiguous reports whether v holds '&' followed by a name and '='.
func ambiguous(v string) bool {
	for i := strings.IndexByte(v, '&'); i >= 0; {
		j := i + 1
		for j < len(v) && isNameByte(v[j]) {
			j++
		}
		if j > i+1 && j < len(v) && v[j] == '=' {
			return true
		}
		k := strings.IndexByte(v[i+1:], '&')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}
