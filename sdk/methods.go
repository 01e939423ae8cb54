package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/posgate/posgate/protocol"
)

// The methods posgate serves.
const (
	MethodPOS              = "v3.POS"
	MethodPOSCancel        = "v3.POSCancel"
	MethodPOSReversal      = "v3.POSReversal"
	MethodCancelPayment    = "v3.CancelPayment"
	MethodQueryOrder       = "v3.QueryOrder"
	MethodCreateRefund     = "v3.CreateRefund"
	MethodQueryRefundOrder = "v3.QueryRefundOrder"
	MethodCapture          = "v3.Capture"
	MethodPreauthDecrement = "v3.PreauthDecrement"
)

// Order states, as on the wire.
const (
	StatePending    = "pending"
	StateProcessing = "processing"
	StatePaid       = "paid"
	StateAuthorized = "authorized"
	StateDeclined   = "declined"
	StateFailed     = "failed"
	StateExpired    = "expired"
	StateCancelled  = "cancelled"
)

// Operations of v3.POS.
const (
	OperationSale          = "1"
	OperationAuthorisation = "2"
)

// Order is an order as v3.POS, v3.POSCancel, v3.POSReversal and
// v3.CancelPayment answer it; the server writes the same type.
type Order = protocol.Order

// Transaction is v3.QueryOrder's data.transaction_info.
type Transaction = protocol.Transaction

// Refund is a refund as v3.CreateRefund and v3.QueryRefundOrder answer it.
type Refund = protocol.Refund

// POSRequest is a sale or pre-authorisation pushed to a terminal.
type POSRequest struct {
	TID         string // default: the client's User (POS methods are called as the terminal)
	Operation   string // OperationSale (default) or OperationAuthorisation
	OrderID     string // the till's order number: 1 to 19 digits
	Amount      string // major units, "12.50"; FormatAmount converts minor units
	TipAmount   string // included in Amount
	Currency    string
	Description string
	Demo        string // free field, echoed back
	NotifyURL   string
	// RequestID makes the request idempotent. Left empty, one is generated
	// and written back here, so the caller can repeat the request later.
	RequestID    string
	PayMethod    string // default "offline"
	SubPayMethod string // default "point_of_sales"
}

// POSCancelRequest cancels an order still waiting for the card.
type POSCancelRequest struct {
	TID       string // default: the client's User
	TradeID   string
	RequestID string // generated and written back when empty
}

// POSReversalRequest reverses a paid or authorised order, in full, on the
// terminal, the same business day.
type POSReversalRequest struct {
	TID       string // default: the client's User
	TradeID   string
	RequestID string // generated and written back when empty
}

// RefundRequest refunds part or all of a paid order.
type RefundRequest struct {
	TradeID     string
	Amount      string // refund_amount, major units
	Currency    string // refund_currency: the order's
	Description string // refund_description
	MRefundID   string // the merchant's own refund reference, optional
	NotifyURL   string // optional
	// RequestID is always sent, so a lost answer can be retried without
	// refunding twice; generated and written back when empty.
	RequestID string
}

// AuthChangeRequest is a capture of a pre-authorisation, or a decrement
// of its authorised amount.
type AuthChangeRequest struct {
	TradeID string
	// Amount, in major units: the amount to capture, or for a decrement
	// the reduction (the answer shows the authorised amount left).
	Amount      string
	Currency    string // the authorisation's
	Description string
	NotifyURL   string
	// RequestID is always sent, so a lost answer can be retried without
	// capturing twice; generated and written back when empty.
	RequestID string
}

// POS starts a sale or pre-authorisation on the terminal. It answers once
// the amount is on screen, with the order "processing"; the result follows
// by notification and QueryOrder.
func (c *Client) POS(ctx context.Context, r *POSRequest) (*Order, error) {
	setDefault(&r.TID, c.User)
	setDefault(&r.Operation, OperationSale)
	setDefault(&r.PayMethod, "offline")
	setDefault(&r.SubPayMethod, "point_of_sales")
	setDefault(&r.RequestID, NewRequestID())
	data := map[string]string{
		"pay_method": r.PayMethod, "sub_pay_method": r.SubPayMethod, "operation": r.Operation,
		"tid": r.TID, "order_id": r.OrderID, "amount": r.Amount, "currency": r.Currency,
		"description": r.Description, "notify_url": r.NotifyURL, "request_id": r.RequestID,
	}
	optional(data, "tip_amount", r.TipAmount)
	optional(data, "demo", r.Demo)
	return call[Order](ctx, c, MethodPOS, data)
}

// POSCancel cancels an unpaid order on the terminal, which closes its
// payment screen.
func (c *Client) POSCancel(ctx context.Context, r *POSCancelRequest) (*Order, error) {
	setDefault(&r.TID, c.User)
	setDefault(&r.RequestID, NewRequestID())
	return call[Order](ctx, c, MethodPOSCancel, map[string]string{"tid": r.TID, "trade_id": r.TradeID, "request_id": r.RequestID})
}

// POSReversal reverses a paid or authorised order on the terminal and
// answers with the order "cancelled".
func (c *Client) POSReversal(ctx context.Context, r *POSReversalRequest) (*Order, error) {
	setDefault(&r.TID, c.User)
	setDefault(&r.RequestID, NewRequestID())
	return call[Order](ctx, c, MethodPOSReversal, map[string]string{"tid": r.TID, "trade_id": r.TradeID, "request_id": r.RequestID})
}

// CancelPayment cancels an order silently, without the terminal. The
// method has no request_id, so a failed send is repeated only when the
// connection was never made.
func (c *Client) CancelPayment(ctx context.Context, tradeID string) (*Order, error) {
	return call[Order](ctx, c, MethodCancelPayment, map[string]string{"trade_id": tradeID})
}

// QueryOrder returns the order as it is now.
func (c *Client) QueryOrder(ctx context.Context, tradeID string) (*Transaction, error) {
	out, err := call[struct {
		TransactionInfo Transaction `json:"transaction_info"`
	}](ctx, c, MethodQueryOrder, map[string]string{"trade_id": tradeID})
	if err != nil {
		return nil, err
	}
	return &out.TransactionInfo, nil
}

// CreateRefund refunds part or all of a paid order.
func (c *Client) CreateRefund(ctx context.Context, r *RefundRequest) (*Refund, error) {
	setDefault(&r.RequestID, NewRequestID())
	data := map[string]string{
		"trade_id": r.TradeID, "refund_amount": r.Amount, "refund_currency": r.Currency,
		"refund_description": r.Description, "request_id": r.RequestID,
	}
	optional(data, "m_refund_id", r.MRefundID)
	optional(data, "notify_url", r.NotifyURL)
	return call[Refund](ctx, c, MethodCreateRefund, data)
}

// QueryRefundOrder returns one refund.
func (c *Client) QueryRefundOrder(ctx context.Context, refundID string) (*Refund, error) {
	return call[Refund](ctx, c, MethodQueryRefundOrder, map[string]string{"refund_id": refundID})
}

// Capture captures part or all of an authorized order, once; the answer
// is the order, paid for the captured amount.
func (c *Client) Capture(ctx context.Context, r *AuthChangeRequest) (*Order, error) {
	return call[Order](ctx, c, MethodCapture, authChangeData(r))
}

// PreauthDecrement lowers the authorised amount of an authorized order by
// r.Amount; the answer is the order with the amount left.
func (c *Client) PreauthDecrement(ctx context.Context, r *AuthChangeRequest) (*Order, error) {
	return call[Order](ctx, c, MethodPreauthDecrement, authChangeData(r))
}

func authChangeData(r *AuthChangeRequest) map[string]string {
	setDefault(&r.RequestID, NewRequestID())
	return map[string]string{
		"trade_id": r.TradeID, "amount": r.Amount, "currency": r.Currency, "description": r.Description,
		"notify_url": r.NotifyURL, "request_id": r.RequestID,
	}
}

// call sends method and decodes a success answer's data; a failure answer
// is an *Error.
func call[T any](ctx context.Context, c *Client, method string, data map[string]string) (*T, error) {
	resp, err := c.Call(ctx, method, data)
	if err != nil {
		return nil, err
	}
	if !resp.Status {
		return nil, &Error{Code: resp.Code, Message: resp.Message, ResponseID: resp.ResponseID, Data: resp.Data}
	}
	var out T
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		return nil, fmt.Errorf("posgate: %s answer (response_id %s): %w", method, resp.ResponseID, err)
	}
	return &out, nil
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func optional(data map[string]string, key, v string) {
	if v != "" {
		data[key] = v
	}
}

// minorDigits lists the ISO 4217 currencies whose minor unit is not
// hundredths.
var minorDigits = map[string]int{
	"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XAF": 0, "XOF": 0, "PYG": 0, "UGX": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

func digits(currency string) int {
	if d, ok := minorDigits[strings.ToUpper(currency)]; ok {
		return d
	}
	return 2
}

// FormatAmount renders minor units as the wire's major-unit decimal string
// with the currency's minor digits: FormatAmount(1250, "EUR") is "12.50".
func FormatAmount(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	d := digits(currency)
	s := strconv.FormatInt(minor, 10)
	if d == 0 {
		return sign + s
	}
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	return sign + s[:len(s)-d] + "." + s[len(s)-d:]
}

// ParseAmount reads a wire amount ("12.5", "12.50", "12") as minor units of
// the currency.
func ParseAmount(s, currency string) (int64, error) {
	d := digits(currency)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > d || strings.Trim(whole+frac, "0123456789") != "" || len(whole) > 15 {
		return 0, fmt.Errorf("sdk: amount %q is not a %s amount", s, currency)
	}
	frac += strings.Repeat("0", d-len(frac))
	return strconv.ParseInt(whole+frac, 10, 64)
}
