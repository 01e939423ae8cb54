package protocol

import (
	"bytes"
	"encoding/json"
)

// Response is the envelope of every answer.
type Response struct {
	Status     bool   `json:"status"`
	Code       Code   `json:"code"`
	Data       any    `json:"data"`
	Message    string `json:"message"`
	ResponseID string `json:"response_id"`
}

// Notification is the body of an async notification: sign covers the data
// fields only.
type Notification struct {
	Sign string            `json:"sign"`
	Data map[string]string `json:"data"`
}

// SignFields signs a flat set of fields (a notification's data).
func SignFields(secret string, fields map[string]string) string {
	return Sign(secret, StringToSign(fields))
}

// Marshal encodes v as JSON with '+' written as \u002b and '%' as \u0025
// inside strings, so a receiver that url-decodes the raw body before parsing
// it (as the official PHP SDK does) still sees the same strings. Outside
// strings the only such byte json.Marshal writes is the optional '+' of a
// number's exponent (1e+21), which is dropped: 1e21 is the same number, and
// \u002b there would not be JSON.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b, '+') < 0 && bytes.IndexByte(b, '%') < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case c == '+' && inString:
			out = append(out, `\u002b`...)
			continue
		case c == '%' && inString:
			out = append(out, `\u0025`...)
			continue
		case c == '+':
			continue
		}
		out = append(out, c)
	}
	return out, nil
}
