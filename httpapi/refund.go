package httpapi

import (
	"context"
	"regexp"

	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
)

// mRefundIDPattern keeps the merchant's refund number printable and short
// enough to index.
var mRefundIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,64}$`)

func (a *api) createRefund(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	d := r.Data
	in := payment.RefundInput{
		TradeID: d["trade_id"], MRefundID: d["m_refund_id"], Amount: d["refund_amount"], Currency: d["refund_currency"],
		Description: d["refund_description"], NotifyURL: d["notify_url"], RequestID: d["request_id"],
		Fingerprint: fingerprint(r.Method, d),
	}
	checks := []error{checkTradeID(in.TradeID), checkCurrency(in.Currency), checkDisplayed("refund_description", in.Description, 255)}
	if in.MRefundID != "" && !mRefundIDPattern.MatchString(in.MRefundID) {
		checks = append(checks, invalid("m_refund_id must be 1-64 letters, digits or _ . : / -"))
	}
	if in.NotifyURL != "" {
		checks = append(checks, checkNotifyURL(in.NotifyURL))
	}
	checks = append(checks, checkRequestID(in.RequestID))
	for _, err := range checks {
		if err != nil {
			return nil, err
		}
	}
	ref, o, err := a.svc.CreateRefund(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return viewRefund(ref, o, a.cfg.SimulatedAcquirer), nil
}

func (a *api) queryRefundOrder(ctx context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	// Refund ids have the shape of trade ids.
	if !tradeIDPattern.MatchString(r.Data["refund_id"]) {
		return nil, invalid("refund_id must be a refund id from v3.CreateRefund (lowercase hex, 8-4-4-4-12)")
	}
	ref, o, err := a.svc.RefundOrder(ctx, c, r.Data["refund_id"])
	if err != nil {
		return nil, err
	}
	return viewRefund(ref, o, a.cfg.SimulatedAcquirer), nil
}
