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

// TestCardFieldsAreExtra: an order without receipt data renders exactly
// as before (no card field, in JSON or in the signed fields), and one
// with it adds only the card_* fields.
func TestCardFieldsAreExtra(t *testing.T) {
	o := Order{Type: "payment", User: "T1", Amount: "1.00", Currency: "EUR", TradeID: "tr", State: "paid"}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	const plain = `{"type":"payment","user":"T1","amount":"1.00","currency":"EUR","trade_id":"tr","description":"","order_id":"","createDate":"","demo":"","transaction_id":"","state":"paid"}`
	if string(b) != plain {
		t.Fatalf("got  %s\nwant %s", b, plain)
	}
	before := o.Fields()
	o.Card = Card{CardBrand: "Visa", CardMaskedPAN: "411111******1111", CardEntryMode: "chip", CardAuthCode: "A1B2C3", CardAID: "A0000000031010"}
	b, err = json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	const withCard = `{"type":"payment","user":"T1","amount":"1.00","currency":"EUR","trade_id":"tr","description":"","order_id":"","createDate":"","demo":"","transaction_id":"","state":"paid","card_brand":"Visa","card_masked_pan":"411111******1111","card_entry_mode":"chip","card_auth_code":"A1B2C3","card_aid":"A0000000031010"}`
	if string(b) != withCard {
		t.Fatalf("got  %s\nwant %s", b, withCard)
	}
	after := o.Fields()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("field %s changed from %q to %q", k, v, after[k])
		}
	}
	if len(after) != len(before)+5 || after["card_masked_pan"] != "411111******1111" || after["card_aid"] != "A0000000031010" {
		t.Fatalf("fields %v", after)
	}
}

// TestTransactionCardFieldsAreExtra: transaction_info without receipt
// data has no card field; with it, they follow the existing fields.
func TestTransactionCardFieldsAreExtra(t *testing.T) {
	b, err := json.Marshal(Transaction{TradeID: "tr"})
	if err != nil {
		t.Fatal(err)
	}
	const plain = `{"trade_id":"tr","merchant_name":"","user":"","tid":"","pay_method":"","sub_pay_method":"","order_id":"","amount":"","tip_amount":"","currency":"","settlement_amount":"","settlement_currency":"","exchange_rate":"","description":"","demo":"","created_at":"","notify_url":"","state":"","transaction_id":"","paid_time":"","refunded_amount":"","cleared":false}`
	if string(b) != plain {
		t.Fatalf("got  %s\nwant %s", b, plain)
	}
	b, err = json.Marshal(Transaction{TradeID: "tr", Card: Card{CardMaskedPAN: "******1111"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := plain[:len(plain)-1] + `,"card_masked_pan":"******1111"}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
