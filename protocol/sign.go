// Package protocol holds the YabandPay v3 wire format that posgate speaks:
// the request and response envelopes, the string to sign, signing and
// verification, and the result codes. It depends on the standard library
// only, so merchant SDKs can import it without pulling in the server.
package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// DefaultTimeWindow is how far a signed request's (or terminal hello's)
// time may be from the server's clock, either way, unless configured.
const DefaultTimeWindow = 300 * time.Second

// StringToSign joins fields as key=value pairs sorted by key in byte order,
// separated by '&', values raw (not URL-encoded), as the YabandPay PHP SDK
// does with ksort and implode.
func StringToSign(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	n := 0
	for k, v := range fields {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	return b.String()
}

// Sign returns the lowercase hex HMAC-SHA256 of s. The key is the secret_key
// exactly as the merchant holds it (the hex text), as the PHP SDK passes it
// to hash_hmac.
func Sign(secret, s string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sign is the signature of s under secret. Upper-case
// hex is accepted. The comparison is constant-time.
func Verify(secret, s, sign string) bool {
	got, err := hex.DecodeString(sign)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return hmac.Equal(got, m.Sum(nil))
}
