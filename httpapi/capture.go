package httpapi

import (
	"context"

	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
)

// authChangeFields are the reference's fields of v3.Capture and
// v3.PreauthDecrement, all required there.
var authChangeFields = []string{"trade_id", "amount", "currency", "description", "notify_url", "request_id"}

func (a *api) capture(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	in, err := authChangeInput(r)
	if err != nil {
		return nil, err
	}
	return orderResult(a.svc.Capture(ctx, c, in))
}

func (a *api) preauthDecrement(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	in, err := authChangeInput(r)
	if err != nil {
		return nil, err
	}
	return orderResult(a.svc.Decrement(ctx, c, in))
}

func authChangeInput(r *protocol.Request) (payment.AuthChangeInput, error) {
	d := r.Data
	in := payment.AuthChangeInput{
		TradeID: d["trade_id"], Amount: d["amount"], Currency: d["currency"], Description: d["description"],
		NotifyURL: d["notify_url"], RequestID: d["request_id"], Fingerprint: fingerprint(r.Method, d),
	}
	for _, err := range []error{
		checkTradeID(in.TradeID),
		checkCurrency(in.Currency),
		checkDisplayed("description", in.Description, 255),
		checkNotifyURL(in.NotifyURL),
		checkRequestID(in.RequestID),
	} {
		if err != nil {
			return in, err
		}
	}
	return in, nil
}
