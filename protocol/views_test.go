package protocol

import (
	"encoding/json"
	"testing"
)

func TestOptionalStringNullRoundTrip(t *testing.T) {
	b, err := json.Marshal(Refund{RefundID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := raw["m_refund_id"]; !ok || v != nil {
		t.Fatalf("m_refund_id = %v (present %v), want null", v, ok)
	}
	var back Refund
	if err := json.Unmarshal([]byte(`{"m_refund_id":"R-1","notify_url":null}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.MRefundID != "R-1" || back.NotifyURL != "" {
		t.Fatalf("read back %+v", back)
	}
	if f := (Refund{MRefundID: "R-1"}).Fields("u"); f["m_refund_id"] != "R-1" || f["notify_url"] != "" || f["user"] != "u" {
		t.Fatalf("fields %v", f)
	}
}
