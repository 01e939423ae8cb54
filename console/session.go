package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	sessionCookie = "posgate_console"
	loginCookie   = "posgate_login" // the login form's CSRF nonce
	sessionTTL    = 12 * time.Hour
)

// sessions signs and checks session cookies. A cookie holds a random
// session id, its expiry and the operator's name, signed with a key
// derived from the admin token's hash: it never holds a secret, it
// survives a restart, every gateway sharing the token accepts it, and
// changing the token ends every session.
type sessions struct {
	key       []byte
	tokenHash []byte
	now       func() time.Time
}

func newSessions(adminTokenSHA256 []byte, now func() time.Time) sessions {
	m := hmac.New(sha256.New, adminTokenSHA256)
	m.Write([]byte("posgate console session v1"))
	return sessions{key: m.Sum(nil), tokenHash: adminTokenSHA256, now: now}
}

func (s sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkToken compares a typed admin token with the configured hash in
// constant time.
func (s sessions) checkToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return len(s.tokenHash) > 0 && subtle.ConstantTimeCompare(sum[:], s.tokenHash) == 1
}

func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/console/", MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// session is a logged-in operator's.
type session struct {
	id       string
	operator string // posgate.AdminOperator for the admin token
}

// start issues a new session cookie for operator. Names hold no '.'
// (posgate.CheckOperatorName).
func (s sessions) start(w http.ResponseWriter, r *http.Request, operator string) {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	id := randomID()
	v := strings.Join([]string{id, exp, operator, s.mac("session", id, exp, operator)}, ".")
	http.SetCookie(w, cookie(r, sessionCookie, v, int(sessionTTL.Seconds())))
}

// session returns the request's valid session.
func (s sessions) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return session{}, false
	}
	id, exp, operator, sig := parts[0], parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(sig), []byte(s.mac("session", id, exp, operator))) {
		return session{}, false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() >= t {
		return session{}, false
	}
	return session{id: id, operator: operator}, true
}

// csrf is the token a session's forms carry: bound to the session, so a
// token from another session (or none) is refused.
func (s sessions) csrf(sessionID string) string { return s.mac("csrf", sessionID) }

func (s sessions) checkCSRF(sessionID, token string) bool {
	return hmac.Equal([]byte(token), []byte(s.csrf(sessionID)))
}

// loginNonce gives the login form its own CSRF token before any session
// exists, bound to a short-lived cookie.
func (s sessions) loginNonce(w http.ResponseWriter, r *http.Request) string {
	nonce := randomID()
	http.SetCookie(w, cookie(r, loginCookie, nonce, 600))
	return s.mac("login", nonce)
}

func (s sessions) checkLogin(r *http.Request, token string) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && hmac.Equal([]byte(token), []byte(s.mac("login", c.Value)))
}
