package e2e

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkAuthFailure measures the two answers -1001 gives, an unknown
// user and a known user with a bad signature, over loopback HTTP. They
// must cost the same, or their timing tells which users exist.
//
//	go test ./e2e -run '^$' -bench AuthFailure -count 5
func BenchmarkAuthFailure(b *testing.B) {
	g := start(b)
	secret := g.addTerminal("Shop A", "TKNOWN", "")
	data := map[string]string{"trade_id": "4a49ffb3-a30f-ba92-9422-1969afb6f121"}
	now := time.Now().Unix()
	badSign := signed("TKNOWN", secret+"00", "v3.QueryOrder", now, data)
	unknown := signed("TNOBODY", secret, "v3.QueryOrder", now, data)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	post := func(b *testing.B, body []byte) {
		resp, err := client.Post(g.URL+"/Payments", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(raw, []byte(`"code":"-1001"`)) {
			b.Fatalf("answer: %s", raw)
		}
	}
	for _, c := range []struct {
		name string
		body []byte
	}{{"bad_signature", badSign}, {"unknown_user", unknown}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				post(b, c.body)
			}
		})
	}
}
