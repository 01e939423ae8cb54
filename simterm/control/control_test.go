package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/simterm"
)

func newTerminal(t *testing.T) *simterm.Terminal {
	t.Helper()
	// Never run: the API's requests need no connection.
	term, err := simterm.New(simterm.Config{Server: "http://127.0.0.1:1", TID: "T1", Secret: "ab"})
	require.NoError(t, err)
	return term
}

func do(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRequestsAreCheckedAndChangeNothingWhenBad(t *testing.T) {
	term := newTerminal(t)
	h := Handler("T1", term)

	w := do(h, "POST", "/v1/next", `{"do":"tap","brand":"visa","entry_mode":"chip","delay_ms":5}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"next":[{"do":"tap","delay_ms":5,"brand":"visa","entry_mode":"chip"}]`)

	for _, body := range []string{``, `{}`, `{"do":"tap","colour":"red"}`, `{"do":"tap"} {"do":"tap"}`, `[]`,
		`{"do":"tap","entry_mode":"nfc"}`, `{"do":"tap","delay_ms":-1}`, `{"do":"tap","brand":"VISA"}`, `{"do":"tap"` + strings.Repeat(" ", maxBody) + `}`} {
		w := do(h, "POST", "/v1/next", body)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, w.Code, body)
		assert.Contains(t, w.Body.String(), `"error":`, body)
	}
	queued, _ := term.Script()
	assert.Len(t, queued, 1, "bad requests queued nothing")

	w = do(h, "PUT", "/v1/behaviour", `{"do":"no_card"}`)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `"behaviour":{"do":"no_card"}`)
	w = do(h, "DELETE", "/v1/behaviour", ``)
	assert.Contains(t, w.Body.String(), `"behaviour":null`)
	w = do(h, "DELETE", "/v1/next", ``)
	assert.Contains(t, w.Body.String(), `"next":[]`)

	w = do(h, "PUT", "/v1/faults", `{"silent":false,"result_delay_ms":1500}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"result_delay_ms":1500`)
	w = do(h, "PUT", "/v1/faults", `{"result_delay_ms":-5}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, 1500, int(term.Faults().ResultDelay.Milliseconds()))

	for _, p := range []string{"/v1/tap", "/v1/decline", "/v1/cancel", "/v1/link/drop"} {
		assert.Equal(t, http.StatusConflict, do(h, "POST", p, "").Code, p)
	}
	assert.Equal(t, http.StatusNotFound, do(h, "GET", "/v2/anything", "").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, do(h, "GET", "/v1/next", "").Code)
}

func TestCrossSiteBrowserRequestsRefused(t *testing.T) {
	term := newTerminal(t)
	h := Handler("T1", term)
	w := do(h, "POST", "/v1/next", `{"do":"decline"}`, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, w.Code)
	queued, _ := term.Script()
	assert.Empty(t, queued)
	assert.Equal(t, http.StatusOK, do(h, "GET", "/v1/state", "", "Sec-Fetch-Site", "cross-site").Code, "reading is harmless")
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		ln, err := Listen(addr, false)
		if err != nil && strings.Contains(err.Error(), "not loopback") {
			t.Fatalf("%s refused: %v", addr, err)
		}
		if ln != nil {
			ln.Close()
		}
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		_, err := Listen(addr, false)
		assert.Error(t, err, addr)
	}
	ln, err := Listen("0.0.0.0:0", true)
	require.NoError(t, err, "allowed explicitly")
	ln.Close()
}

// FuzzParseAction: whatever the body, an accepted action is one the
// terminal can perform.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{`{"do":"tap","brand":"visa","entry_mode":"contactless","delay_ms":0}`, `{"do":"no_card"}`,
		`{"do":"timeout","delay_ms":600000}`, `{"do":"fail"}`, `{"do":"tap","x":1}`, `{"do":1}`, `null`, `{"do":"tap"}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAction(body)
		if err == nil {
			require.NoError(t, a.Check())
			require.NotEmpty(t, a.Do)
		}
	})
}
