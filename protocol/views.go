package protocol

import "encoding/json"

// The merchant-facing shapes of orders and refunds: the server writes
// them and the SDK reads them, so both use these types and cannot drift.
// Amounts are decimal strings in major units with the currency's minor
// digits ("12.50"); times are Unix seconds as strings.

// Order is an order as v3.POS, v3.POSCancel, v3.POSReversal and
// v3.CancelPayment answer it and as its notifications carry it: the seed's
// fields in the seed's order, then the ones posgate adds where known.
type Order struct {
	Type          string `json:"type"`
	User          string `json:"user"`
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	TradeID       string `json:"trade_id"`
	Description   string `json:"description"`
	OrderID       string `json:"order_id"`
	CreateDate    string `json:"createDate"`
	Demo          string `json:"demo"`
	TransactionID string `json:"transaction_id"`
	State         string `json:"state"`
	TipAmount     string `json:"tip_amount,omitempty"`
	PayMethod     string `json:"pay_method,omitempty"`
	SubPayMethod  string `json:"sub_pay_method,omitempty"`
	PaidTime      string `json:"paid_time,omitempty"`
	// Reconciliation is set when the terminal approved the order after it
	// was settled as not paid: late_approval_reversing, then
	// late_approval_reversed or late_approval_not_reversed.
	Reconciliation string `json:"reconciliation,omitempty"`
	Card
}

// Card is the receipt data of the terminal's approval (docs/api.md,
// "Receipt data"), each field absent when the terminal did not send it:
// never the full card number.
type Card struct {
	CardBrand     string `json:"card_brand,omitempty"`      // "Visa", "Mastercard": the terminal's name for the scheme
	CardMaskedPAN string `json:"card_masked_pan,omitempty"` // at most the first 6 and last 4 digits: "411111******1111"
	CardEntryMode string `json:"card_entry_mode,omitempty"` // contactless, chip or swipe
	CardAuthCode  string `json:"card_auth_code,omitempty"`  // the issuer's authorisation code
	CardAID       string `json:"card_aid,omitempty"`        // EMV application id of a chip (or contactless) read
}

// add puts the card's fields that are set into m.
func (c Card) add(m map[string]string) {
	for k, v := range map[string]string{"card_brand": c.CardBrand, "card_masked_pan": c.CardMaskedPAN,
		"card_entry_mode": c.CardEntryMode, "card_auth_code": c.CardAuthCode, "card_aid": c.CardAID} {
		if v != "" {
			m[k] = v
		}
	}
}

// Fields is the flat field set an order's notification carries and signs.
func (d Order) Fields() map[string]string {
	m := map[string]string{
		"type": d.Type, "user": d.User, "amount": d.Amount, "currency": d.Currency,
		"trade_id": d.TradeID, "description": d.Description, "order_id": d.OrderID,
		"createDate": d.CreateDate, "demo": d.Demo, "transaction_id": d.TransactionID,
		"state": d.State,
	}
	for k, v := range map[string]string{"tip_amount": d.TipAmount, "pay_method": d.PayMethod, "sub_pay_method": d.SubPayMethod,
		"paid_time": d.PaidTime, "reconciliation": d.Reconciliation} {
		if v != "" {
			m[k] = v
		}
	}
	d.Card.add(m)
	return m
}

// Transaction is v3.QueryOrder's data.transaction_info: the reference's
// fields that posgate knows.
type Transaction struct {
	TradeID            string `json:"trade_id"`
	MerchantName       string `json:"merchant_name"`
	User               string `json:"user"`
	TID                string `json:"tid"`
	PayMethod          string `json:"pay_method"`
	SubPayMethod       string `json:"sub_pay_method"`
	OrderID            string `json:"order_id"`
	Amount             string `json:"amount"`
	TipAmount          string `json:"tip_amount"`
	Currency           string `json:"currency"`
	SettlementAmount   string `json:"settlement_amount"`
	SettlementCurrency string `json:"settlement_currency"`
	ExchangeRate       string `json:"exchange_rate"`
	Description        string `json:"description"`
	Demo               string `json:"demo"`
	CreatedAt          string `json:"created_at"`
	NotifyURL          string `json:"notify_url"`
	State              string `json:"state"`
	TransactionID      string `json:"transaction_id"`
	PaidTime           string `json:"paid_time"`
	RefundedAmount     string `json:"refunded_amount"`
	Cleared            bool   `json:"cleared"`
	// Reconciliation: as Order's.
	Reconciliation string `json:"reconciliation,omitempty"`
	Card
}

// Refund is a refund as v3.CreateRefund and v3.QueryRefundOrder answer it:
// YabandPay's fields (m_refund_id and notify_url null when not given),
// then posgate's own. State is one of "to-be-approval", "refund pending",
// "refund processing", "refunded", "refund failed", "refund error",
// "refund cancel".
type Refund struct {
	TransactionID            string         `json:"transaction_id"`
	RefundID                 string         `json:"refund_id"`
	MRefundID                OptionalString `json:"m_refund_id"`
	RefundTime               string         `json:"refund_time"`
	State                    string         `json:"state"`
	RefundAmount             string         `json:"refund_amount"`
	RefundCurrency           string         `json:"refund_currency"`
	RefundDescription        string         `json:"refund_description"`
	NotifyURL                OptionalString `json:"notify_url"`
	Demo                     string         `json:"demo"`
	SettlementRefundAmount   string         `json:"settlement_refund_amount"`
	SettlementRefundCurrency string         `json:"settlement_refund_currency"`
	YBTransactionID          string         `json:"yb_transaction_id"`
	TradeID                  string         `json:"trade_id"`
	RefundedTime             string         `json:"refunded_time,omitempty"`
	AcquirerReference        string         `json:"acquirer_reference,omitempty"`
	Message                  string         `json:"message,omitempty"` // why a refund failed
	// Acquirer is "simulated" when the gateway refunds through its
	// simulated acquirer: no money moved, whatever the state says. A real
	// acquirer leaves it out.
	Acquirer string `json:"acquirer,omitempty"`
}

// NotificationSequence names the field every notification carries: a
// number that grows with each change of its order (of its refund, for a
// refund notification), so a receiver can drop a delivery older than one
// it has applied (deliveries run in parallel and are retried, so they can
// arrive out of order).
const NotificationSequence = "sequence"

// Fields is the flat field set of a refund's notification (type refund,
// user the signer), absent values as empty strings.
func (d Refund) Fields(user string) map[string]string {
	m := map[string]string{
		"type": "refund", "user": user, "transaction_id": d.TransactionID, "refund_id": d.RefundID,
		"m_refund_id": string(d.MRefundID), "refund_time": d.RefundTime, "state": d.State, "refund_amount": d.RefundAmount,
		"refund_currency": d.RefundCurrency, "refund_description": d.RefundDescription, "notify_url": string(d.NotifyURL),
		"demo": d.Demo, "settlement_refund_amount": d.SettlementRefundAmount,
		"settlement_refund_currency": d.SettlementRefundCurrency, "yb_transaction_id": d.YBTransactionID,
		"trade_id": d.TradeID,
	}
	for k, v := range map[string]string{"refunded_time": d.RefundedTime, "acquirer_reference": d.AcquirerReference, "message": d.Message,
		"acquirer": d.Acquirer} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// OptionalString is a string the reference writes as null when it was not
// given; null reads back as "".
type OptionalString string

func (s OptionalString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

func (s *OptionalString) UnmarshalJSON(b []byte) error {
	var p *string
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = ""
	if p != nil {
		*s = OptionalString(*p)
	}
	return nil
}
