package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sqlite"
)

// FuzzPayments posts what an outsider could to a real gateway: arbitrary
// bodies, and signed requests with arbitrary methods and data. Whatever
// comes, the answer is an envelope (never a 5xx, never -5000), and a
// refused request writes nothing. The seeds are the corpus under
// testdata/fuzz/FuzzPayments and those added below.
func FuzzPayments(f *testing.F) {
	g := start(f)
	secret := g.addTerminal("Shop A", "T1", "")
	f.Add([]byte(`{}`), "v3.POS", "amount", "12.50", "currency", "EUR")
	f.Add([]byte(`{"user":"T1","method":"v3.QueryOrder","time":1,"sign":"x","data":{}}`), "v3.QueryOrder", "trade_id", "x", "request_id", "")
	f.Add([]byte("\x00\xff"), "v3.POSReversal", "trade_id", "00000000-0000-0000-0000-000000000000", "request_id", "r1")
	f.Add([]byte(`[]`), "v3.CreateRefund", "refund_amount", "-1", "refund_currency", "EUR")
	f.Add([]byte(`{"data":{"a":{"b":1}}}`), "v3.CancelPayment", "trade_id", "", "tid", "T1")
	db := g.G.Store.(*sqlite.Store).DB()
	f.Fuzz(func(t *testing.T, raw []byte, method, k1, v1, k2, v2 string) {
		count := func() map[string]int {
			out := map[string]int{}
			for _, table := range []string{"orders", "requests", "commands", "reversals", "refunds", "notifications"} {
				var n int
				if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				out[table] = n
			}
			return out
		}
		before := count()
		check := func(body []byte) {
			resp, err := http.Post(g.URL+"/Payments", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("HTTP %d for %q: %s", resp.StatusCode, body, b)
			}
			// The fuzzer's gateway belongs to f, not to this t, so the
			// package's transport does not check it: check here.
			if errs := apiDocument.Check(resp.Request, body, resp, b); len(errs) > 0 {
				t.Fatalf("OpenAPI document and gateway disagree for %q: %v", body, errs)
			}
			var env protocol.Response
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatalf("not an envelope for %q: %s", body, b)
			}
			if env.Code == protocol.CodeInternal {
				t.Fatalf("-5000 for %q: %s", body, b)
			}
			if !env.Status {
				if after := count(); !equalCounts(before, after) {
					t.Fatalf("a refused request (%s) wrote rows: %v -> %v; body %q", env.Code, before, after, body)
				}
			} else {
				before = count()
			}
		}
		check(raw)
		now := strconv.FormatInt(g.Clock.Now().Unix(), 10)
		data := map[string]string{k1: v1, k2: v2}
		fields := map[string]string{"user": "T1", "method": method, "time": now}
		for k, v := range data {
			fields[k] = v
		}
		body, err := json.Marshal(map[string]any{"user": "T1", "method": method, "time": json.Number(now),
			"sign": protocol.Sign(secret, protocol.StringToSign(fields)), "data": data})
		if err != nil {
			return
		}
		check(body)
	})
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
