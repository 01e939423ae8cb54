package termproto_test

import (
	"encoding/json"
	"errors"
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

// TestDecodeRefusesPAN: a progress or result frame holding what could be a
// full card number, in any field, known or not, is refused without
// quoting it; the Luhn check digit makes no difference.
func TestDecodeRefusesPAN(t *testing.T) {
	t.Parallel()
	const luhnValid, luhnInvalid = "4111111111111111", "4111111111111112"
	refused := map[string]string{
		"luhn-valid in masked pan":      `{"type":"result","id":"c","outcome":"approved","card_masked_pan":"` + luhnValid + `"}`,
		"luhn-invalid in masked pan":    `{"type":"result","id":"c","outcome":"approved","card_masked_pan":"` + luhnInvalid + `"}`,
		"in the message":                `{"type":"result","id":"c","outcome":"declined","message":"card ` + luhnValid + ` declined"}`,
		"in the transaction id":         `{"type":"result","id":"c","outcome":"approved","transaction_id":"` + luhnInvalid + `"}`,
		"in the command id":             `{"type":"result","id":"` + luhnValid + `","outcome":"approved"}`,
		"in the auth code":              `{"type":"result","id":"c","outcome":"approved","card_auth_code":"` + luhnValid + `"}`,
		"thirteen digits":               `{"type":"result","id":"c","outcome":"approved","message":"4222222222222"}`,
		"nineteen digits":               `{"type":"result","id":"c","outcome":"approved","message":"6011000990139424000"}`,
		"spaced groups":                 `{"type":"result","id":"c","outcome":"approved","message":"4111 1111 1111 1111"}`,
		"hyphenated groups":             `{"type":"result","id":"c","outcome":"approved","message":"4111-1111-1111-1111"}`,
		"escaped digits":                `{"type":"result","id":"c","outcome":"approved","message":"\u0034111111111111111"}`,
		"unknown field":                 `{"type":"result","id":"c","outcome":"approved","track2":"` + luhnValid + `=2512"}`,
		"unknown field name":            `{"type":"result","id":"c","outcome":"approved","` + luhnValid + `":1}`,
		"nested":                        `{"type":"result","id":"c","outcome":"approved","emv":{"tags":["5A","` + luhnValid + `"]}}`,
		"number in an unknown field":    `{"type":"result","id":"c","outcome":"approved","pan":` + luhnValid + `}`,
		"number nested under at":        `{"type":"result","id":"c","outcome":"approved","x":{"at":` + luhnValid + `}}`,
		"duplicate key, first holds it": `{"type":"result","id":"c","outcome":"approved","message":"` + luhnValid + `","message":"ok"}`,
		"in a progress message":         `{"type":"progress","id":"c","stage":"card_read","message":"read ` + luhnValid + `"}`,
		"before an unknown outcome":     `{"type":"result","id":"c","outcome":"` + luhnValid + `"}`,
		"a bare number as aid":          `{"type":"result","id":"c","outcome":"approved","card_aid":"` + luhnValid + `"}`,
		"aid duplicated":                `{"type":"result","id":"c","outcome":"approved","card_aid":"` + luhnValid + `","card_aid":"A0000000031010"}`,
		"aid-shaped elsewhere":          `{"type":"result","id":"c","outcome":"approved","message":"A` + luhnValid + `"}`,
	}
	for name, in := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := termproto.Decode([]byte(in))
			if !errors.Is(err, termproto.ErrPAN) {
				t.Fatalf("error %v, want ErrPAN", err)
			}
			if strings.Contains(err.Error(), "1111111") || strings.Contains(err.Error(), "2222222") {
				t.Fatalf("the error quotes the digits: %v", err)
			}
		})
	}
	accepted := map[string]string{
		"masked pan and receipt": `{"type":"result","id":"c","outcome":"approved","transaction_id":"4200000298201905227377147799","card_brand":"Visa","card_masked_pan":"411111******1111","card_entry_mode":"chip","card_auth_code":"A1B2C3","card_aid":"A0000000031010","at":1767225602000}`,
		"twelve digits":          `{"type":"result","id":"c","outcome":"approved","card_auth_code":"123456789012"}`,
		"twenty digits":          `{"type":"result","id":"c","outcome":"approved","transaction_id":"SIM12345678901234567890"}`,
		"separated short groups": `{"type":"result","id":"c","outcome":"approved","message":"12 items - 2026-11-30 12:00"}`,
		"a hello's hex":          `{"type":"hello","tid":"T1","time":1767225600,"nonce":"1234567890123456","sign":"1234567890123456"}`,
		"at of 13 digits":        `{"type":"progress","id":"c","stage":"card_read","at":1767225602000}`,
		"girocard aid":           `{"type":"result","id":"c","outcome":"approved","card_entry_mode":"chip","card_aid":"D27600002547410100"}`,
	}
	for name, in := range accepted {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := termproto.Decode([]byte(in))
			noError(t, err)
		})
	}
	_, err := termproto.Decode([]byte(`{"type":"result","id":"c","outcome":"approved","card_entry_mode":"manual"}`))
	errorContains(t, err, "unknown card_entry_mode")
	_, err = termproto.Decode([]byte(`{"type":"result","id":"c","outcome":"approved","card_aid":"B000000003"}`))
	errorContains(t, err, "card_aid")
}
