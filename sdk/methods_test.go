package sdk

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
)

// TestAuthChangesSendTheirFields: Capture and PreauthDecrement send the
// reference's fields with a request_id written back, and read the order
// with its receipt data.
func TestAuthChangesSendTheirFields(t *testing.T) {
	var got []*protocol.Request
	held := paidOrder
	held.Card = protocol.Card{CardBrand: "Visa", CardMaskedPAN: "411111******1111", CardEntryMode: "chip", CardAuthCode: "A1B2C3", CardAID: "A0000000031010"}
	_, c := fake(t, func(w http.ResponseWriter, req *protocol.Request) {
		got = append(got, req)
		answer(true, protocol.CodeOK, held)(w, req)
	})
	ctx := context.Background()
	for _, tc := range []struct {
		method string
		call   func(*AuthChangeRequest) (*Order, error)
	}{
		{MethodCapture, func(r *AuthChangeRequest) (*Order, error) { return c.Capture(ctx, r) }},
		{MethodPreauthDecrement, func(r *AuthChangeRequest) (*Order, error) { return c.PreauthDecrement(ctx, r) }},
	} {
		r := &AuthChangeRequest{TradeID: "t-1", Amount: "2.00", Currency: "EUR", Description: "stay", NotifyURL: "https://n"}
		o, err := tc.call(r)
		if err != nil || o.CardMaskedPAN != "411111******1111" || o.CardAID != "A0000000031010" {
			t.Fatalf("%s: %v %+v", tc.method, err, o)
		}
		if !regexp.MustCompile(`^[a-z0-9]{32}$`).MatchString(r.RequestID) {
			t.Fatalf("%s: generated request_id %q is not written back", tc.method, r.RequestID)
		}
		req := got[len(got)-1]
		want := map[string]string{"trade_id": "t-1", "amount": "2.00", "currency": "EUR", "description": "stay", "notify_url": "https://n", "request_id": r.RequestID}
		if req.Method != tc.method || !equal(req.Data, want) {
			t.Errorf("%s sent %s %v, want %v", tc.method, req.Method, req.Data, want)
		}
	}
}

// TestExportsCopyTheCSV: the exports send start_time and end_time in Unix
// seconds and copy the CSV; a refusal is a typed error and writes nothing.
func TestExportsCopyTheCSV(t *testing.T) {
	const csv = "trade_id,order_id\r\nt-1,1\r\n"
	var got []*protocol.Request
	_, c := fake(t, func(w http.ResponseWriter, req *protocol.Request) {
		got = append(got, req)
		if req.Data["end_time"] <= req.Data["start_time"] {
			answer(false, protocol.CodeInvalidField, nil)(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Write([]byte(csv))
	})
	ctx := context.Background()
	from, to := time.Unix(1569894340, 0), time.Unix(1573523141, 0)
	for _, export := range []func(time.Time, time.Time, *bytes.Buffer) error{
		func(a, b time.Time, w *bytes.Buffer) error { return c.TimePayOrder(ctx, a, b, w) },
		func(a, b time.Time, w *bytes.Buffer) error { return c.TimeRefundOrder(ctx, a, b, w) },
	} {
		var buf bytes.Buffer
		if err := export(from, to, &buf); err != nil || buf.String() != csv {
			t.Fatalf("export: %v %q", err, buf.String())
		}
		err := export(to, from, &buf)
		buf.Reset()
		if !errors.Is(err, ErrInvalidField) {
			t.Fatalf("refusal: %v", err)
		}
		if err := export(to, from, &buf); err == nil || buf.Len() != 0 {
			t.Fatalf("a refusal wrote %q", buf.String())
		}
	}
	want := map[string]string{"start_time": "1569894340", "end_time": "1573523141"}
	if got[0].Method != MethodTimePayOrder || !equal(got[0].Data, want) || got[3].Method != MethodTimeRefundOrder || !equal(got[3].Data, want) {
		t.Fatalf("sent %s %v and %s %v", got[0].Method, got[0].Data, got[3].Method, got[3].Data)
	}
}
