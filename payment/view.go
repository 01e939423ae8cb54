package payment

import (
	"strconv"
	"time"

	"github.com/posgate/posgate"
)

// OrderData is an order as responses and notifications show it: the seed's
// fields in the seed's order, then the ones posgate adds where known.
type OrderData struct {
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
}

// ViewOrder renders o for the wire.
func ViewOrder(o posgate.Order) OrderData {
	cur, _ := posgate.LookupCurrency(o.Currency)
	d := OrderData{
		Type:          "payment",
		User:          o.User,
		Amount:        posgate.FormatAmount(o.Amount, cur),
		Currency:      o.Currency,
		TradeID:       o.TradeID,
		Description:   o.Description,
		OrderID:       o.OrderID,
		CreateDate:    unix(o.CreatedAt),
		Demo:          o.Demo,
		TransactionID: o.TransactionID,
		State:         string(o.State),
		TipAmount:     posgate.FormatAmount(o.TipAmount, cur),
		PayMethod:     o.PayMethod,
		SubPayMethod:  o.SubPayMethod,
	}
	if o.PaidAt != nil {
		d.PaidTime = unix(*o.PaidAt)
	}
	return d
}

// Fields is the flat field set a notification carries and signs.
func (d OrderData) Fields() map[string]string {
	m := map[string]string{
		"type": d.Type, "user": d.User, "amount": d.Amount, "currency": d.Currency,
		"trade_id": d.TradeID, "description": d.Description, "order_id": d.OrderID,
		"createDate": d.CreateDate, "demo": d.Demo, "transaction_id": d.TransactionID,
		"state": d.State,
	}
	for k, v := range map[string]string{"tip_amount": d.TipAmount, "pay_method": d.PayMethod, "sub_pay_method": d.SubPayMethod, "paid_time": d.PaidTime} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// TransactionInfo is v3.QueryOrder's data.transaction_info: the reference's
// fields that posgate knows, amounts with the currency's minor digits and
// times as Unix-second strings.
type TransactionInfo struct {
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
}

// ViewTransaction renders o for v3.QueryOrder.
func ViewTransaction(o posgate.Order, merchant posgate.Merchant) TransactionInfo {
	cur, _ := posgate.LookupCurrency(o.Currency)
	t := TransactionInfo{
		TradeID:            o.TradeID,
		MerchantName:       merchant.Name,
		User:               o.User,
		TID:                o.TID,
		PayMethod:          o.PayMethod,
		SubPayMethod:       o.SubPayMethod,
		OrderID:            o.OrderID,
		Amount:             posgate.FormatAmount(o.Amount, cur),
		TipAmount:          posgate.FormatAmount(o.TipAmount, cur),
		Currency:           o.Currency,
		SettlementAmount:   posgate.FormatAmount(o.Amount, cur),
		SettlementCurrency: o.Currency,
		ExchangeRate:       "1",
		Description:        o.Description,
		Demo:               o.Demo,
		CreatedAt:          unix(o.CreatedAt),
		NotifyURL:          o.NotifyURL,
		State:              string(o.State),
		TransactionID:      o.TransactionID,
		RefundedAmount:     posgate.FormatAmount(o.RefundedAmount, cur),
		Cleared:            o.ClearedAt != nil,
	}
	if o.PaidAt != nil {
		t.PaidTime = unix(*o.PaidAt)
	}
	return t
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
