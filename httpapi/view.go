package httpapi

import (
	"strconv"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/protocol"
)

// viewOrder renders o for the wire.
func viewOrder(o posgate.Order) protocol.Order {
	cur, _ := posgate.LookupCurrency(o.Currency)
	d := protocol.Order{
		Type:           "payment",
		User:           o.User,
		Amount:         posgate.FormatAmount(o.Amount, cur),
		Currency:       o.Currency,
		TradeID:        o.TradeID,
		Description:    o.Description,
		OrderID:        o.OrderID,
		CreateDate:     unix(o.CreatedAt),
		Demo:           o.Demo,
		TransactionID:  o.TransactionID,
		State:          string(o.State),
		TipAmount:      posgate.FormatAmount(o.TipAmount, cur),
		PayMethod:      o.PayMethod,
		SubPayMethod:   o.SubPayMethod,
		Reconciliation: string(o.Reconciliation),
		Card:           viewCard(o.Receipt),
	}
	if o.PaidAt != nil {
		d.PaidTime = unix(*o.PaidAt)
	}
	return d
}

// viewCard renders an approval's receipt data.
func viewCard(r posgate.Receipt) protocol.Card {
	return protocol.Card{CardBrand: r.CardBrand, CardMaskedPAN: r.MaskedPAN, CardEntryMode: string(r.EntryMode),
		CardAuthCode: r.AuthCode, CardAID: r.AID}
}

// viewTransaction renders o for v3.QueryOrder.
func viewTransaction(o posgate.Order, merchant posgate.Merchant) protocol.Transaction {
	cur, _ := posgate.LookupCurrency(o.Currency)
	t := protocol.Transaction{
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
		Reconciliation:     string(o.Reconciliation),
		Card:               viewCard(o.Receipt),
	}
	if o.PaidAt != nil {
		t.PaidTime = unix(*o.PaidAt)
	}
	return t
}

// viewRefund renders r of order o. refund_time is when the refund was
// asked for; refunded_time when the acquirer made it. simulated marks it
// as made by the simulated acquirer.
func viewRefund(r posgate.Refund, o posgate.Order, simulated bool) protocol.Refund {
	cur, _ := posgate.LookupCurrency(r.Currency)
	amount := posgate.FormatAmount(r.Amount, cur)
	d := protocol.Refund{
		TransactionID: o.TransactionID, RefundID: r.RefundID, MRefundID: protocol.OptionalString(r.MRefundID),
		RefundTime: unix(r.CreatedAt), State: string(r.State), RefundAmount: amount, RefundCurrency: r.Currency,
		RefundDescription: r.Description, NotifyURL: protocol.OptionalString(r.NotifyURL),
		SettlementRefundAmount: amount, SettlementRefundCurrency: r.Currency,
		YBTransactionID: r.TradeID, TradeID: r.TradeID, AcquirerReference: r.AcquirerRef, Message: r.Message,
	}
	if r.RefundedAt != nil {
		d.RefundedTime = unix(*r.RefundedAt)
	}
	if simulated {
		d.Acquirer = acquirer.SimulatedName
	}
	return d
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Payloads renders what notifications carry and sign, in the same shapes
// as the API's answers; the payment service stores it with each
// notification.
type Payloads struct {
	// SimulatedAcquirer marks refund notifications as simulated.
	SimulatedAcquirer bool
}

// Order's sequence is the order's version: every change of an order
// advances it, in the transaction that queues the notification.
func (Payloads) Order(o posgate.Order) map[string]string {
	f := viewOrder(o).Fields()
	f[protocol.NotificationSequence] = strconv.FormatInt(o.Version+1, 10)
	return f
}

// Refund's sequence is the refund's version, as Order's.
func (p Payloads) Refund(r posgate.Refund, o posgate.Order) map[string]string {
	f := viewRefund(r, o, p.SimulatedAcquirer).Fields(r.User)
	f[protocol.NotificationSequence] = strconv.FormatInt(r.Version+1, 10)
	return f
}
