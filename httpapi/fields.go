package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
)

var (
	tradeIDPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	orderIDPattern   = regexp.MustCompile(`^[0-9]{1,19}$`)
	currencyPattern  = regexp.MustCompile(`^[A-Z]{3}$`)
)

func invalid(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeInvalidField, format, args...)
}

func checkTradeID(v string) error {
	if !tradeIDPattern.MatchString(v) {
		return invalid("trade_id must be a YabandPay trade id (lowercase hex, 8-4-4-4-12)")
	}
	return nil
}

func checkRequestID(v string) error {
	if !requestIDPattern.MatchString(v) {
		return invalid("request_id must be 1-64 letters, digits, '-' or '_' (24 or more recommended)")
	}
	return nil
}

func checkText(name, v string, max int) error {
	if !utf8.ValidString(v) {
		return invalid("%s must be valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid("%s must be at most %d characters, got %d", name, max, n)
	}
	return nil
}

// checkDisplayed checks text that reaches a screen (the terminal's, a
// merchant's back office): control characters (C0, DEL, C1, tab and line
// breaks included) are refused, not stripped, because NUL truncates in C
// displays and ESC starts terminal escape sequences that can repaint or
// hide what the customer sees; a silently altered text would be signed by
// the caller but not be what posgate stores.
func checkDisplayed(name, v string, max int) error {
	if err := checkText(name, v, max); err != nil {
		return err
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return invalid("%s must not contain control characters, got %U at byte %d", name, r, i)
	}
	return nil
}

func checkNotifyURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 2048 {
		return invalid("notify_url must be an absolute http(s) URL of at most 2048 characters")
	}
	return nil
}

func checkCurrency(v string) error {
	if !currencyPattern.MatchString(v) {
		return invalid("currency must be an ISO 4217 code such as EUR")
	}
	if _, ok := posgate.LookupCurrency(v); !ok {
		return invalid("currency %s is not supported", v)
	}
	return nil
}

// fingerprint identifies a request's method and data, so an exact repeat
// of a request_id can be told from a different request reusing it.
func fingerprint(method string, data map[string]string) string {
	h := sha256.Sum256([]byte(method + "\n" + protocol.StringToSign(data)))
	return hex.EncodeToString(h[:])
}
