package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
)

const (
	testUser   = "T125119061"
	testSecret = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
)

// recorder is a fake gateway: it records every body it receives and
// answers with the next of its scripted handlers (the last one repeats).
type recorder struct {
	t      *testing.T
	mu     sync.Mutex
	bodies [][]byte
	script []func(w http.ResponseWriter, req *protocol.Request)
}

func (f *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.bodies)
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	req, err := protocol.DecodeRequest(body)
	if err != nil || !protocol.Verify(testSecret, req.StringToSign(), req.Sign) {
		f.t.Errorf("request does not verify: %v %s", err, body)
		return
	}
	f.script[min(n, len(f.script)-1)](w, req)
}

func (f *recorder) sent() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies...)
}

func answer(status bool, code protocol.Code, data any) func(http.ResponseWriter, *protocol.Request) {
	return func(w http.ResponseWriter, _ *protocol.Request) {
		msg := ""
		if !status {
			msg = code.Message()
		}
		json.NewEncoder(w).Encode(protocol.Response{Status: status, Code: code, Data: data, Message: msg, ResponseID: "r1"})
	}
}

func httpStatus(code int) func(http.ResponseWriter, *protocol.Request) {
	return func(w http.ResponseWriter, _ *protocol.Request) { http.Error(w, "bad gateway", code) }
}

// hangUp drops the connection after the request was read: the client
// cannot know whether it was acted on.
func hangUp(w http.ResponseWriter, _ *protocol.Request) {
	conn, _, _ := w.(http.Hijacker).Hijack()
	conn.Close()
}

func fake(t *testing.T, script ...func(http.ResponseWriter, *protocol.Request)) (*recorder, *Client) {
	f := &recorder{t: t, script: script}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := New(srv.URL, testUser, testSecret)
	c.RetryDelay = time.Millisecond
	return f, c
}

var paidOrder = Order{Type: "payment", User: testUser, TradeID: "t-1", Amount: "12.50", Currency: "EUR", State: StatePaid}

func TestTypedMethodsSendTheirFields(t *testing.T) {
	var got []*protocol.Request
	f, c := fake(t, func(w http.ResponseWriter, req *protocol.Request) {
		got = append(got, req)
		switch req.Method {
		case MethodQueryOrder:
			answer(true, protocol.CodeOK, map[string]any{"transaction_info": Transaction{TradeID: "t-1", State: StatePaid, Cleared: true}})(w, req)
		case MethodCreateRefund, MethodQueryRefundOrder:
			answer(true, protocol.CodeOK, Refund{RefundID: "rf-1", State: "refunded"})(w, req)
		default:
			answer(true, protocol.CodeOK, paidOrder)(w, req)
		}
	})
	ctx := context.Background()
	sale := &POSRequest{OrderID: "1", Amount: "12.50", TipAmount: "0.50", Currency: "EUR", Description: "d", NotifyURL: "https://n"}
	o, err := c.POS(ctx, sale)
	if err != nil || o.TradeID != "t-1" {
		t.Fatalf("POS: %v %+v", err, o)
	}
	if !regexp.MustCompile(`^[a-z0-9]{32}$`).MatchString(sale.RequestID) {
		t.Fatalf("generated request_id %q is not written back", sale.RequestID)
	}
	rev := &POSReversalRequest{TradeID: "t-1", RequestID: "mine"}
	if _, err := c.POSReversal(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if _, err := c.POSCancel(ctx, &POSCancelRequest{TradeID: "t-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelPayment(ctx, "t-1"); err != nil {
		t.Fatal(err)
	}
	tx, err := c.QueryOrder(ctx, "t-1")
	if err != nil || tx.State != StatePaid || !tx.Cleared {
		t.Fatalf("QueryOrder: %v %+v", err, tx)
	}
	rf, err := c.CreateRefund(ctx, &RefundRequest{TradeID: "t-1", Amount: "1.00", Currency: "EUR", Description: "x"})
	if err != nil || rf.RefundID != "rf-1" {
		t.Fatalf("CreateRefund: %v %+v", err, rf)
	}
	if _, err := c.QueryRefundOrder(ctx, "rf-1"); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		method string
		data   map[string]string
	}{
		{MethodPOS, map[string]string{"pay_method": "offline", "sub_pay_method": "point_of_sales", "operation": "1", "tid": testUser, "order_id": "1", "amount": "12.50", "tip_amount": "0.50", "currency": "EUR", "description": "d", "notify_url": "https://n", "request_id": sale.RequestID}},
		{MethodPOSReversal, map[string]string{"tid": testUser, "trade_id": "t-1", "request_id": "mine"}},
		{MethodPOSCancel, map[string]string{"tid": testUser, "trade_id": "t-1", "request_id": got[2].Data["request_id"]}},
		{MethodCancelPayment, map[string]string{"trade_id": "t-1"}},
		{MethodQueryOrder, map[string]string{"trade_id": "t-1"}},
		{MethodCreateRefund, map[string]string{"trade_id": "t-1", "refund_amount": "1.00", "refund_currency": "EUR", "refund_description": "x", "request_id": got[5].Data["request_id"]}},
		{MethodQueryRefundOrder, map[string]string{"refund_id": "rf-1"}},
	}
	if len(f.sent()) != len(want) {
		t.Fatalf("sent %d requests, want %d (no retries on success)", len(f.sent()), len(want))
	}
	for i, w := range want {
		if got[i].Method != w.method || got[i].User != testUser || !equal(got[i].Data, w.data) {
			t.Errorf("request %d: %s %v, want %s %v", i, got[i].Method, got[i].Data, w.method, w.data)
		}
	}
	if got[2].Data["request_id"] == "" || got[5].Data["request_id"] == "" {
		t.Error("POSCancel and CreateRefund always carry a request_id")
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFailureAnswersAreTypedErrors(t *testing.T) {
	_, c := fake(t, answer(false, protocol.CodeTerminalDeclined, paidOrder))
	_, err := c.POSReversal(context.Background(), &POSReversalRequest{TradeID: "t-1"})
	if !errors.Is(err, ErrTerminalDeclined) || errors.Is(err, ErrTerminalTimeout) {
		t.Fatalf("err = %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeTerminalDeclined || e.ResponseID != "r1" || e.Message != protocol.CodeTerminalDeclined.Message() {
		t.Fatalf("err = %#v", err)
	}
	if o, ok := e.Order(); !ok || o.State != StatePaid {
		t.Fatalf("Order() = %+v, %v", o, ok)
	}
	if !strings.Contains(err.Error(), "-4204") || !strings.Contains(err.Error(), "r1") {
		t.Errorf("Error() = %q", err.Error())
	}
	if _, ok := (&Error{Code: protocol.CodeTradeNotFound, Data: json.RawMessage("null")}).Order(); ok {
		t.Error("null data is no order")
	}
	dup := &Error{Code: protocol.CodeDuplicateRequest, Data: json.RawMessage(`{"refund_id":"r-1","trade_id":"t-1","state":"refunded"}`)}
	if r, ok := dup.Refund(); !ok || r.RefundID != "r-1" || r.State != "refunded" {
		t.Errorf("Refund() = %+v, %v", r, ok)
	}
	if _, ok := dup.Order(); ok {
		t.Error("a refund is no order")
	}
	if _, ok := e.Refund(); ok {
		t.Error("an order is no refund")
	}
}

// TestOneSentinelPerCode: every code posgate answers with, but success,
// has its sentinel, and no two sentinels share a code.
func TestOneSentinelPerCode(t *testing.T) {
	all := []*Error{ErrAuthFailed, ErrTimeWindow, ErrUnknownMethod, ErrBadEnvelope, ErrRateLimited, ErrMissingField,
		ErrDuplicateRequest, ErrInvalidField, ErrTIDMismatch, ErrCancelWindow, ErrCleared, ErrTradeNotFound,
		ErrNotCancellable, ErrAlreadyCancelled, ErrExpired, ErrTerminalOffline, ErrTerminalBusy,
		ErrTerminalTimeout, ErrTerminalDeclined, ErrRefundNotAllowed, ErrCaptureRefused, ErrAcquirerDeclined,
		ErrAcquirerUnknown, ErrInternal}
	seen := map[protocol.Code]bool{}
	for _, e := range all {
		if seen[e.Code] || !e.Code.Known() {
			t.Errorf("sentinel %s is repeated or unknown", e.Code)
		}
		seen[e.Code] = true
	}
	for _, code := range protocol.Codes() {
		if code != protocol.CodeOK && !seen[code] {
			t.Errorf("code %s (%s) has no sentinel", code, code.Message())
		}
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("QueryRetries5xx", func(t *testing.T) {
		f, c := fake(t, httpStatus(http.StatusBadGateway), answer(true, protocol.CodeOK, map[string]any{"transaction_info": Transaction{State: StatePaid}}))
		if _, err := c.QueryOrder(ctx, "t-1"); err != nil {
			t.Fatal(err)
		}
		if n := len(f.sent()); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
	t.Run("MoneyMovingResendsTheIdenticalBody", func(t *testing.T) {
		f, c := fake(t, hangUp, httpStatus(http.StatusServiceUnavailable), answer(true, protocol.CodeOK, paidOrder))
		req := &POSReversalRequest{TradeID: "t-1"}
		if _, err := c.POSReversal(ctx, req); err != nil {
			t.Fatal(err)
		}
		sent := f.sent()
		if len(sent) != 3 || !bytes.Equal(sent[0], sent[1]) || !bytes.Equal(sent[0], sent[2]) {
			t.Fatalf("attempts differ or miss:\n%s", bytes.Join(sent, []byte("\n")))
		}
	})
	t.Run("GivesUpAfterRetries", func(t *testing.T) {
		f, c := fake(t, httpStatus(http.StatusBadGateway))
		_, err := c.POS(ctx, &POSRequest{OrderID: "1", Amount: "1", Currency: "EUR"})
		if err == nil || !strings.Contains(err.Error(), "502") {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.sent()); n != 1+c.Retries {
			t.Fatalf("%d attempts, want %d", n, 1+c.Retries)
		}
	})
	t.Run("FailureAnswersAreNotRetried", func(t *testing.T) {
		f, c := fake(t, answer(false, protocol.CodeInternal, nil))
		if _, err := c.QueryOrder(ctx, "t-1"); !errors.Is(err, ErrInternal) {
			t.Fatal(err)
		}
		if n := len(f.sent()); n != 1 {
			t.Fatalf("%d attempts", n)
		}
	})
	t.Run("CancelPaymentNotRetriedOnceReceived", func(t *testing.T) {
		for name, h := range map[string]func(http.ResponseWriter, *protocol.Request){"hang up": hangUp, "502": httpStatus(http.StatusBadGateway)} {
			f, c := fake(t, h, answer(true, protocol.CodeOK, paidOrder))
			if _, err := c.CancelPayment(ctx, "t-1"); err == nil {
				t.Errorf("%s: no error", name)
			}
			if n := len(f.sent()); n != 1 {
				t.Errorf("%s: %d attempts: a request without request_id must not be sent twice", name, n)
			}
		}
	})
	t.Run("CancelPaymentRetriedWhenNeverSent", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // connection refused from now on
		var dials int
		c := New("http://"+addr, testUser, testSecret)
		c.RetryDelay = time.Millisecond
		c.HTTP = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			dials++
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}}}
		if _, err := c.CancelPayment(ctx, "t-1"); err == nil {
			t.Fatal("no error")
		}
		if dials != 1+c.Retries {
			t.Fatalf("%d dials, want %d", dials, 1+c.Retries)
		}
	})
}

func TestNewRequestID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]{32}$`)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		id := NewRequestID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
		for _, r := range id {
			counts[r]++
		}
	}
	// 64000 characters over 36 symbols: about 1778 each. A modulo bias
	// would give the first four symbols about 1/63 more; this checks all
	// appear and none is far off (a loose bound, so it never flakes).
	for _, r := range "abcdefghijklmnopqrstuvwxyz0123456789" {
		if counts[r] < 1500 || counts[r] > 2060 {
			t.Errorf("%c drawn %d times", r, counts[r])
		}
	}
}

func TestAmounts(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{{1250, "EUR", "12.50"}, {10, "EUR", "0.10"}, {0, "EUR", "0.00"}, {500, "JPY", "500"}, {1234, "KWD", "1.234"}, {-5, "usd", "-0.05"}} {
		if got := FormatAmount(c.minor, c.cur); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
		if c.minor >= 0 {
			if back, err := ParseAmount(c.want, c.cur); err != nil || back != c.minor {
				t.Errorf("ParseAmount(%q) = %d, %v", c.want, back, err)
			}
		}
	}
	for _, bad := range []string{"", ".5", "1.234", "-1", "1e3", "1,00", " 1"} {
		if _, err := ParseAmount(bad, "EUR"); err == nil {
			t.Errorf("ParseAmount(%q) accepted", bad)
		}
	}
}
