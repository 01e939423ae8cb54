package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posgate/posgate/protocol"
)

func notification(t *testing.T, secret string, data map[string]string) []byte {
	t.Helper()
	body, err := protocol.Marshal(protocol.Notification{Sign: protocol.SignFields(secret, data), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestNotificationHandler(t *testing.T) {
	secrets := SecretMap(map[string]string{testUser: testSecret})
	data := map[string]string{"type": "payment", "user": testUser, "trade_id": "t-1", "state": "paid", "amount": "12.50", "description": "50% off + tip"}
	good := notification(t, testSecret, data)

	var got []Notification
	fail := false
	h := NotificationHandler(secrets, func(n Notification) error {
		if fail {
			return errors.New("database down")
		}
		got = append(got, n)
		return nil
	})
	post := func(body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
		req.Header.Set("Webhook-Id", "ntf-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}

	if code := post(good); code != http.StatusOK {
		t.Fatalf("good notification: %d", code)
	}
	if len(got) != 1 || got[0].ID != "ntf-1" || got[0].TradeID() != "t-1" || got[0].State() != "paid" || got[0].Type() != "payment" || got[0].Data["description"] != "50% off + tip" {
		t.Fatalf("callback got %+v", got)
	}

	fail = true
	if code := post(good); code != http.StatusInternalServerError {
		t.Fatalf("failing callback: %d, want 500 so the gateway retries", code)
	}
	fail = false

	rejected := map[string]struct {
		body []byte
		code int
	}{
		"flipped byte in data":  {bytes.Replace(good, []byte("12.50"), []byte("12.51"), 1), http.StatusUnauthorized},
		"flipped byte in sign":  {flipSign(good), http.StatusUnauthorized},
		"wrong secret":          {notification(t, strings.Repeat("00", 32), data), http.StatusUnauthorized},
		"unknown user":          {notification(t, testSecret, with(data, "user", "T999")), http.StatusUnauthorized},
		"added field":           {addField(good), http.StatusUnauthorized},
		"not JSON":              {[]byte("sign=x&data=y"), http.StatusBadRequest},
		"no sign":               {[]byte(`{"data":{"user":"T125119061"}}`), http.StatusBadRequest},
		"duplicate key":         {[]byte(`{"sign":"00","data":{"user":"T125119061","state":"paid","state":"failed"}}`), http.StatusBadRequest},
		"url-encoded JSON body": {[]byte("%7B%22sign%22%3A%22x%22%7D"), http.StatusBadRequest},
		"too large":             {bytes.Repeat([]byte(" "), maxNotificationBytes+1), http.StatusRequestEntityTooLarge},
	}
	for name, c := range rejected {
		if code := post(c.body); code != c.code {
			t.Errorf("%s: %d, want %d", name, code, c.code)
		}
	}
	if len(got) != 1 {
		t.Fatalf("the callback saw rejected notifications: %+v", got[1:])
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/notify", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range m {
		if key != k {
			out[key] = val
		}
	}
	return out
}

func flipSign(body []byte) []byte {
	var n protocol.Notification
	json.Unmarshal(body, &n)
	b := []byte(n.Sign)
	b[0] ^= 1
	return bytes.Replace(body, []byte(n.Sign), b, 1)
}

func addField(body []byte) []byte {
	return bytes.Replace(body, []byte(`"data":{`), []byte(`"data":{"refunded":"1",`), 1)
}

// FuzzVerifyNotification: no body makes verification panic, and nothing
// but a correctly signed body passes.
func FuzzVerifyNotification(f *testing.F) {
	data := map[string]string{"type": "payment", "user": testUser, "trade_id": "t-1", "state": "paid"}
	good, _ := protocol.Marshal(protocol.Notification{Sign: protocol.SignFields(testSecret, data), Data: data})
	f.Add(good)
	f.Add([]byte(`{"sign":"","data":{}}`))
	f.Add([]byte(`{"sign":"00","data":{"user":"T125119061","a":1.5e3,"b":true,"c":null}}`))
	secrets := SecretMap(map[string]string{testUser: testSecret})
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := VerifyNotification(body, secrets)
		if err != nil {
			return
		}
		if n.Data["user"] != testUser {
			t.Fatalf("verified a notification of user %q", n.Data["user"])
		}
		req, derr := protocol.DecodeRequest(body)
		if derr != nil || !protocol.Verify(testSecret, protocol.StringToSign(n.Data), req.Sign) {
			t.Fatalf("verified %q", body)
		}
	})
}
