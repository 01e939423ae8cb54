package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
)

// BenchmarkSignedRequest measures a signed POST /Payments answered after
// full verification (decode, user lookup, HMAC, time window, method:
// v3.TimePayOrder, a YabandPay method posgate does not serve, answers -1004)
// against a bare net/http handler that only verifies the same HMAC, both in
// one run, over loopback HTTP with keep-alive and parallel clients.
//
//	go test ./e2e -run '^$' -bench SignedRequest -benchtime 20000x
func BenchmarkSignedRequest(b *testing.B) {
	g := start(b)
	secret := g.addTerminal("Shop A", "TBENCH", "")
	body := signed("TBENCH", secret, "v3.TimePayOrder", time.Now().Unix(), map[string]string{"start_time": "1569894340", "end_time": "1573523141"})

	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
		req, err := protocol.DecodeRequest(raw)
		if err != nil || !protocol.Verify(secret, req.StringToSign(), req.Sign) {
			w.Write([]byte(`{"status":false,"code":"-1001","data":null,"message":"Authentication failed"}`))
			return
		}
		w.Write([]byte(`{"status":false,"code":"-1004","data":null,"message":"Unknown method"}`))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go bare.Serve(ln)
	defer bare.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	drive := func(url string, n int) time.Duration {
		const workers = 16
		var wg sync.WaitGroup
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					resp, err := client.Post(url+"/Payments", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !bytes.Contains(out, []byte(`"-1004"`)) {
						b.Errorf("unexpected answer %s", out)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	drive(g.URL, 200) // warm up both: connections, caches
	drive("http://"+ln.Addr().String(), 200)
	b.ResetTimer()
	gw := drive(g.URL, b.N)
	base := drive("http://"+ln.Addr().String(), b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/gw.Seconds(), "posgate-req/s")
	b.ReportMetric(float64(b.N)/base.Seconds(), "bare-req/s")
	b.ReportMetric(base.Seconds()/gw.Seconds(), "ratio")
}
