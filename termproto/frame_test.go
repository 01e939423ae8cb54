package termproto_test

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/termproto"
)

// TestHelloSignatureVector pins the worked example of
// docs/terminal-protocol.md: if it changes, every terminal breaks.
func TestHelloSignatureVector(t *testing.T) {
	t.Parallel()
	const (
		secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		tid    = "T125119061"
		at     = 1767225600 // 2026-01-01T00:00:00Z
		nonce  = "4f1c2a9e8b7d6c5a"
		sign   = "268994a1d93940968ce34d8c13d30308e5ba69b4681f0734e26a467c8883557c"
	)
	s := termproto.HelloStringToSign(tid, at, nonce, termproto.Version)
	equal(t, "nonce=4f1c2a9e8b7d6c5a&tid=T125119061&time=1767225600&type=hello&version=1", s)
	equal(t, sign, termproto.SignHello(secret, tid, at, nonce, termproto.Version))
	if !protocol.Verify(secret, s, strings.ToUpper(sign)) {
		t.Fatal("the upper-case signature does not verify")
	}

	b, err := termproto.Encode(termproto.Frame{
		Type: termproto.TypeHello, TID: tid, Time: at, Nonce: nonce, Sign: sign,
		Version: termproto.Version, Client: "acme-pos/2.3.1",
	})
	noError(t, err)
	jsonEqual(t, `{"type":"hello","tid":"T125119061","time":1767225600,"nonce":"4f1c2a9e8b7d6c5a",
		"sign":"268994a1d93940968ce34d8c13d30308e5ba69b4681f0734e26a467c8883557c","version":1,"client":"acme-pos/2.3.1"}`, string(b))
}

// TestDocExamples keeps the JSON examples of the vendor document valid
// and written exactly as Encode writes them.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/terminal-protocol.md")
	noError(t, err)
	blocks := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllSubmatch(doc, -1)
	if len(blocks) < 12 {
		t.Fatalf("%d JSON examples, want at least 12", len(blocks))
	}
	for _, m := range blocks {
		f, err := termproto.Decode(m[1])
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		enc, err := termproto.Encode(f)
		noError(t, err)
		equal(t, string(m[1]), string(enc))
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		in   string
		want termproto.Frame
	}{
		{"Hello", `{"type":"hello","tid":"T1","time":1767225600,"nonce":"4f1c2a9e8b7d6c5a","sign":"ab","version":1}`,
			termproto.Frame{Type: "hello", TID: "T1", Time: 1767225600, Nonce: "4f1c2a9e8b7d6c5a", Sign: "ab", Version: 1}},
		{"Welcome", `{"type":"welcome","version":1,"heartbeat_ms":10000,"server_time":1767225600123}`,
			termproto.Frame{Type: "welcome", Version: 1, HeartbeatMS: 10000, ServerTime: 1767225600123}},
		{"Heartbeat", `{"type":"heartbeat","seq":3}`, termproto.Frame{Type: "heartbeat", Seq: 3}},
		{"HeartbeatWithoutSeq", `{"type":"heartbeat"}`, termproto.Frame{Type: "heartbeat"}},
		{"HeartbeatAck", `{"type":"heartbeat_ack","seq":3}`, termproto.Frame{Type: "heartbeat_ack", Seq: 3}},
		{"Command", `{"type":"command","id":"c1","kind":"sale","trade_id":"t1","order_id":"o1","amount":"12.34","tip_amount":"1.00","currency":"EUR","description":"coffee","timeout_ms":60000}`,
			termproto.Frame{Type: "command", ID: "c1", Kind: "sale", TradeID: "t1", OrderID: "o1", Amount: "12.34", TipAmount: "1.00", Currency: "EUR", Description: "coffee", TimeoutMS: 60000}},
		{"CommandReversal", `{"type":"command","id":"c2","kind":"reversal","trade_id":"t1"}`,
			termproto.Frame{Type: "command", ID: "c2", Kind: "reversal", TradeID: "t1"}},
		{"Abort", `{"type":"abort","id":"c1","reason":"expired"}`, termproto.Frame{Type: "abort", ID: "c1", Reason: "expired"}},
		{"Progress", `{"type":"progress","id":"c1","stage":"card_read","at":1767225601000}`,
			termproto.Frame{Type: "progress", ID: "c1", Stage: "card_read", At: 1767225601000}},
		{"Result", `{"type":"result","id":"c1","outcome":"approved","transaction_id":"tx9","at":1767225602000}`,
			termproto.Frame{Type: "result", ID: "c1", Outcome: "approved", TransactionID: "tx9", At: 1767225602000}},
		{"ResultCancelled", `{"type":"result","id":"c1","outcome":"cancelled","message":"aborted by cloud"}`,
			termproto.Frame{Type: "result", ID: "c1", Outcome: "cancelled", Message: "aborted by cloud"}},
		{"ResultInterrupted", `{"type":"result","id":"c1","outcome":"interrupted","message":"restarted"}`,
			termproto.Frame{Type: "result", ID: "c1", Outcome: "interrupted", Message: "restarted"}},
		{"Ack", `{"type":"ack","id":"c1"}`, termproto.Frame{Type: "ack", ID: "c1"}},
		{"Error", `{"type":"error","code":"-1001","message":"authentication failed"}`,
			termproto.Frame{Type: "error", Code: "-1001", Message: "authentication failed"}},
		{"Reconnect", `{"type":"reconnect","after_ms":2500}`, termproto.Frame{Type: "reconnect", AfterMS: 2500}},
		{"ReconnectAtOnce", `{"type":"reconnect"}`, termproto.Frame{Type: "reconnect"}},
		{"UnknownFieldIgnored", `{"type":"ack","id":"c1","future":true}`, termproto.Frame{Type: "ack", ID: "c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := termproto.Decode([]byte(tc.in))
			noError(t, err)
			equal(t, tc.want, got)
		})
	}

	for _, tc := range []struct {
		name, in, err string
	}{
		{"ErrNotJSON", `hello`, "not a JSON object"},
		{"ErrArray", `[{"type":"ack","id":"c1"}]`, "not a JSON object"},
		{"ErrWrongFieldType", `{"type":"heartbeat","seq":"3"}`, "not a JSON object"},
		{"ErrNoType", `{}`, `unknown frame type ""`},
		{"ErrUnknownType", `{"type":"ping"}`, `unknown frame type "ping"`},
		{"ErrHelloWithoutTID", `{"type":"hello","time":1,"nonce":"4f1c2a9e8b7d6c5a","sign":"ab"}`, "without tid"},
		{"ErrHelloWithoutSign", `{"type":"hello","tid":"T1","time":1,"nonce":"4f1c2a9e8b7d6c5a"}`, "without sign"},
		{"ErrHelloWithoutTime", `{"type":"hello","tid":"T1","nonce":"4f1c2a9e8b7d6c5a","sign":"ab"}`, "without time"},
		{"ErrHelloShortNonce", `{"type":"hello","tid":"T1","time":1,"nonce":"short","sign":"ab"}`, "16 to 64"},
		{"ErrHelloLongNonce", `{"type":"hello","tid":"T1","time":1,"nonce":"` + strings.Repeat("n", 65) + `","sign":"ab"}`, "16 to 64"},
		{"ErrCommandWithoutID", `{"type":"command","kind":"sale"}`, "without id"},
		{"ErrCommandUnknownKind", `{"type":"command","id":"c1","kind":"refund"}`, `unknown kind "refund"`},
		{"ErrAbortWithoutID", `{"type":"abort","reason":"cancelled"}`, "without id"},
		{"ErrAckWithoutID", `{"type":"ack"}`, "without id"},
		{"ErrProgressWithoutStage", `{"type":"progress","id":"c1"}`, "without stage"},
		{"ErrResultUnknownOutcome", `{"type":"result","id":"c1","outcome":"maybe"}`, `unknown outcome "maybe"`},
		{"ErrReconnectNegative", `{"type":"reconnect","after_ms":-1}`, "after_ms -1"},
		{"ErrReconnectTooLate", `{"type":"reconnect","after_ms":600001}`, "after_ms 600001"},
		{"ErrTooLarge", `{"type":"ack","id":"` + strings.Repeat("x", termproto.MaxFrameBytes) + `"}`, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := termproto.Decode([]byte(tc.in))
			errorContains(t, err, tc.err)
		})
	}
}

// FuzzDecode feeds Decode what a hostile or buggy peer could send; the
// seed corpus is under testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := termproto.Decode(b)
		if err != nil {
			return
		}
		enc, err := termproto.Encode(got)
		noError(t, err)
		again, err := termproto.Decode(enc)
		if len(enc) > termproto.MaxFrameBytes {
			// Encode escapes <, > and & as six bytes each, so a frame close to
			// the limit can grow past it on re-encoding; the size check is
			// then the only allowed refusal.
			errorContains(t, err, "exceeds")
			return
		}
		if err != nil {
			t.Fatalf("re-encoded as %s: %v", enc, err)
		}
		equal(t, got, again)
	})
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal[T comparable](t *testing.T, want, got T) {
	t.Helper()
	if want != got {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func errorContains(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

func jsonEqual(t *testing.T, want, got string) {
	t.Helper()
	var w, g any
	noError(t, json.Unmarshal([]byte(want), &w))
	noError(t, json.Unmarshal([]byte(got), &g))
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
