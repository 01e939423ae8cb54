package httpapi

import (
	"context"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
)

// method is one API method: its required data fields, whether it is a
// POS method (data.tid must equal user), and its handler. A nil handler
// is a method a later version builds: it answers -1004 after the fields
// are checked.
type method struct {
	required []string
	pos      bool
	handle   func(a *api, ctx context.Context, c payment.Caller, r *protocol.Request) (any, error)
}

// methods is every method of the contract, known from the start.
var methods = map[string]method{
	"v3.POS": {
		required: []string{"pay_method", "sub_pay_method", "operation", "tid", "order_id", "amount", "currency", "description", "notify_url", "request_id"},
		pos:      true,
		handle:   (*api).pos,
	},
	"v3.POSCancel":        {required: []string{"tid", "trade_id", "request_id"}, pos: true, handle: (*api).posCancel},
	"v3.POSReversal":      {required: []string{"tid", "trade_id", "request_id"}, pos: true, handle: (*api).posReversal},
	"v3.CancelPayment":    {required: []string{"trade_id"}, handle: (*api).cancelPayment},
	"v3.QueryOrder":       {required: []string{"trade_id"}, handle: (*api).queryOrder},
	"v3.CreateRefund":     {required: []string{"trade_id", "refund_amount", "refund_currency", "refund_description", "request_id"}, handle: (*api).createRefund},
	"v3.QueryRefundOrder": {required: []string{"refund_id"}, handle: (*api).queryRefundOrder},
	"v3.Capture":          {required: authChangeFields, handle: (*api).capture},
	"v3.PreauthDecrement": {required: authChangeFields, handle: (*api).preauthDecrement},
	"v3.TimePayOrder":     {required: []string{"start_time", "end_time"}, handle: (*api).timePayOrder},
	"v3.TimeRefundOrder":  {required: []string{"start_time", "end_time"}, handle: (*api).timeRefundOrder},
}

func (a *api) pos(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	d := r.Data
	in := payment.SaleInput{
		OrderID: d["order_id"], Amount: d["amount"], TipAmount: d["tip_amount"], Currency: d["currency"],
		Description: d["description"], Demo: d["demo"], NotifyURL: d["notify_url"],
		PayMethod: d["pay_method"], SubPayMethod: d["sub_pay_method"], RequestID: d["request_id"],
		Fingerprint: fingerprint(r.Method, d),
	}
	switch {
	case in.PayMethod != "offline":
		return nil, invalid("pay_method must be offline")
	case in.SubPayMethod != "point_of_sales" && in.SubPayMethod != "POSPayment":
		return nil, invalid("sub_pay_method must be point_of_sales or POSPayment")
	case d["operation"] != "1" && d["operation"] != "2":
		return nil, invalid("operation must be 1 (Sales) or 2 (Authorisation)")
	case !orderIDPattern.MatchString(in.OrderID):
		return nil, invalid("order_id must be digits only and fewer than 20 characters")
	}
	in.Operation = posgate.OpSale
	if d["operation"] == "2" {
		in.Operation = posgate.OpAuthorisation
	}
	for _, err := range []error{
		checkCurrency(in.Currency),
		checkDisplayed("description", in.Description, 64),
		checkText("demo", in.Demo, 255),
		checkNotifyURL(in.NotifyURL),
		checkRequestID(in.RequestID),
	} {
		if err != nil {
			return nil, err
		}
	}
	o, err := a.svc.StartSale(ctx, c, in)
	return orderResult(o, err)
}

func (a *api) posCancel(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	if err := checkTradeAndRequest(r); err != nil {
		return nil, err
	}
	o, err := a.svc.CancelOnTerminal(ctx, c, r.Data["trade_id"], r.Data["request_id"], fingerprint(r.Method, r.Data))
	return orderResult(o, err)
}

func (a *api) posReversal(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	if err := checkTradeAndRequest(r); err != nil {
		return nil, err
	}
	o, err := a.svc.Reverse(ctx, c, r.Data["trade_id"], r.Data["request_id"], fingerprint(r.Method, r.Data))
	return orderResult(o, err)
}

func (a *api) cancelPayment(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	if err := checkTradeID(r.Data["trade_id"]); err != nil {
		return nil, err
	}
	o, err := a.svc.CancelPayment(ctx, c, r.Data["trade_id"])
	return orderResult(o, err)
}

func (a *api) queryOrder(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	if err := checkTradeID(r.Data["trade_id"]); err != nil {
		return nil, err
	}
	o, m, err := a.svc.Order(ctx, c, r.Data["trade_id"])
	if err != nil {
		return nil, err
	}
	return map[string]any{"transaction_info": viewTransaction(o, m)}, nil
}

func checkTradeAndRequest(r *protocol.Request) error {
	if err := checkTradeID(r.Data["trade_id"]); err != nil {
		return err
	}
	return checkRequestID(r.Data["request_id"])
}

// orderResult puts the order in the answer: on success, and on refusals
// that still have an order to show (a wait that timed out, a decline on
// the terminal, an exact repeat of a request_id).
func orderResult(o posgate.Order, err error) (any, error) {
	if err == nil {
		return viewOrder(o), nil
	}
	return nil, err
}
