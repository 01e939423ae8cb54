package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
)

// RefundInput is a validated v3.CreateRefund request.
type RefundInput struct {
	TradeID     string
	MRefundID   string // optional, unique per merchant
	Amount      string // as sent; parsed in the order's currency
	Currency    string
	Description string
	NotifyURL   string // optional
	RequestID   string // required: a refund moves money, so a retry must never make a second one
	Fingerprint string
}

// conflictAttempts bounds the retries of a refund transaction that lost a
// compare-and-set to a concurrent one; each round one of them wins, so
// this covers far more concurrent refunds of one order than a till makes.
const conflictAttempts = 64

// CreateRefund is v3.CreateRefund. One transaction checks the rules,
// records the request_id, inserts the refund, raises the order's refunded
// total (whose bound in the store is the final guard against concurrent
// refunds) and queues the notification. A refund of a cashier with
// approval authority then waits for ApproveRefund; the others go to the
// acquirer at once and the answer carries its outcome.
func (s *Service) CreateRefund(ctx context.Context, c Caller, in RefundInput) (posgate.Refund, posgate.Order, error) {
	var r posgate.Refund
	var o posgate.Order
	err := s.refundTx(ctx, func(tx posgate.Tx) error {
		now := s.now()
		if err := checkDuplicate(tx, c.User, in.RequestID, in.Fingerprint); err != nil {
			return refundRepeat(tx, c, in.RequestID, err)
		}
		var err error
		if o, err = refundableOrder(tx, c, in.TradeID); err != nil {
			return err
		}
		state, err := refundStartState(tx, c)
		if err != nil {
			return err
		}
		cur, ok := posgate.LookupCurrency(o.Currency)
		if !ok {
			return fmt.Errorf("order %s has unknown currency %q", o.TradeID, o.Currency)
		}
		amount, err := posgate.ParseAmount(in.Amount, cur)
		if err != nil {
			return posgate.Refuse(posgate.ErrInvalid, "refund_amount: "+err.Error())
		}
		_, err = tx.ActiveReversal(o.TradeID)
		if err != nil && !errors.Is(err, posgate.ErrNotFound) {
			return err
		}
		if err := posgate.CheckRefund(o, amount, in.Currency, err == nil, now); err != nil {
			return err
		}
		if in.MRefundID != "" {
			if prev, err := tx.RefundByMerchantRef(c.MerchantID, in.MRefundID); err == nil {
				return mRefundIDTaken(in.MRefundID, prev.RefundID)
			} else if !errors.Is(err, posgate.ErrNotFound) {
				return err
			}
		}
		r = posgate.Refund{
			RefundID: newID(), TradeID: o.TradeID, MerchantID: o.MerchantID, User: c.User, MRefundID: in.MRefundID,
			Amount: amount, Currency: o.Currency, Description: in.Description, NotifyURL: in.NotifyURL,
			RequestID: in.RequestID, State: state, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: in.RequestID, Method: "v3.CreateRefund", Fingerprint: in.Fingerprint, TradeID: o.TradeID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertRefund(r); err != nil {
			if errors.Is(err, posgate.ErrDuplicate) {
				return mRefundIDTaken(in.MRefundID, "")
			}
			return err
		}
		o.RefundedAmount += amount
		o.RefundCount++
		o.UpdatedAt = now
		if err := tx.UpdateOrder(o); err != nil {
			if errors.Is(err, posgate.ErrRefundNotAllowed) {
				return posgate.Refuse(posgate.ErrRefundNotAllowed, "Refund not allowed: refund_amount exceeds the remainder; the total refund amount cannot exceed the original payment amount")
			}
			return err
		}
		o.Version++
		return s.notifyRefund(tx, r, o)
	})
	if err != nil || r.State != posgate.RefundProcessing {
		return r, o, err
	}
	return s.processRefund(ctx, r, o)
}

// DuplicateRefundError answers an exact repeat of a v3.CreateRefund: the
// refund the first request made, as it is now, so a till that lost the
// first answer learns its outcome instead of refunding twice.
type DuplicateRefundError struct {
	Refund posgate.Refund
	Order  posgate.Order
}

func (e *DuplicateRefundError) Error() string { return "duplicate request_id" }
func (e *DuplicateRefundError) Unwrap() error { return posgate.ErrDuplicateRequest }

// refundRepeat turns checkDuplicate's answer to an exact repeat into the
// refund that request made. The request record names only the order, so
// the refund is found among the order's by its user and request_id.
func refundRepeat(tx posgate.Tx, c Caller, requestID string, err error) error {
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.Order == nil {
		return err
	}
	refunds, rerr := tx.RefundsForOrder(dup.Order.TradeID)
	if rerr != nil {
		return rerr
	}
	for _, r := range refunds {
		if r.User == c.User && r.RequestID == requestID {
			return &DuplicateRefundError{Refund: r, Order: *dup.Order}
		}
	}
	// The request and its refund commit in one transaction.
	return fmt.Errorf("request_id %s of %s is recorded without its refund", requestID, c.User)
}

// ApproveRefund is operator by's approval of a refund waiting for it
// (posgate refunds approve, the console): the refund goes to the acquirer
// and the outcome is returned; the approval is in the order's audit.
// Unknown refunds are posgate.ErrNotFound.
func (s *Service) ApproveRefund(ctx context.Context, by, refundID string) (posgate.Refund, error) {
	r, o, changed, err := s.moveRefund(ctx, refundID, posgate.RefundProcessing, "", "", &operatorAct{by, posgate.ActionRefundApprove, ""})
	if err != nil {
		return r, err
	}
	if !changed {
		return r, notWaiting(r)
	}
	r, _, err = s.processRefund(ctx, r, o)
	return r, err
}

// RejectRefund is operator by's withdrawal of a refund waiting for
// approval (posgate refunds reject, the console): it becomes refund
// cancel and gives its amount back to the order; the rejection is in the
// order's audit.
func (s *Service) RejectRefund(ctx context.Context, by, refundID, reason string) (posgate.Refund, error) {
	r, _, changed, err := s.moveRefund(ctx, refundID, posgate.RefundCancelled, "", reason, &operatorAct{by, posgate.ActionRefundReject, reason})
	if err == nil && !changed {
		err = notWaiting(r)
	}
	return r, err
}

// RefundOrder is v3.QueryRefundOrder: the refund and its order, for a
// cashier of the order's merchant or the order's own terminal. Anyone
// else, like an unknown refund_id, gets "does not exist".
func (s *Service) RefundOrder(ctx context.Context, c Caller, refundID string) (posgate.Refund, posgate.Order, error) {
	var r posgate.Refund
	var o posgate.Order
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		r, err = tx.Refund(refundID)
		if err == nil {
			o, err = tx.Order(r.TradeID)
		}
		if errors.Is(err, posgate.ErrNotFound) || (err == nil && !mayRefund(o, c)) {
			return posgate.Refuse(posgate.ErrTradeNotFound, "The refund_id does not exist")
		}
		return err
	})
	return r, o, err
}

// Refunds lists an order's refunds, oldest first, for operators.
func (s *Service) Refunds(ctx context.Context, tradeID string) ([]posgate.Refund, error) {
	var out []posgate.Refund
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		out, err = tx.RefundsForOrder(tradeID)
		return err
	})
	return out, err
}

// mayRefund: a cashier acts on any order of its merchant, a terminal on
// the orders made on it.
func mayRefund(o posgate.Order, c Caller) bool {
	return posgate.Visible(o, c.Principal) && (c.Kind == posgate.KindCashier || o.TID == c.User)
}

func refundableOrder(tx posgate.Tx, c Caller, tradeID string) (posgate.Order, error) {
	o, err := tx.Order(tradeID)
	if errors.Is(err, posgate.ErrNotFound) || (err == nil && !mayRefund(o, c)) {
		return posgate.Order{}, posgate.Refuse(posgate.ErrTradeNotFound, "The trade_id does not exist")
	}
	return o, err
}

// refundStartState applies the caller's refund authority. Terminals refund
// at once: they may already reverse their orders in full.
func refundStartState(tx posgate.Tx, c Caller) (posgate.RefundState, error) {
	if c.Kind != posgate.KindCashier {
		return posgate.RefundProcessing, nil
	}
	cashiers, err := tx.Cashiers()
	if err != nil {
		return "", err
	}
	for _, ca := range cashiers {
		if ca.UID != c.User {
			continue
		}
		switch ca.RefundAuthority {
		case posgate.RefundImmediate, "":
			return posgate.RefundProcessing, nil
		case posgate.RefundApproval:
			return posgate.RefundToBeApproved, nil
		default:
			return "", posgate.Refuse(posgate.ErrRefundNotAllowed, "Refund not allowed: refunds are disabled for cashier "+c.User)
		}
	}
	return "", fmt.Errorf("cashier %s not found", c.User)
}

func mRefundIDTaken(mRefundID, refundID string) error {
	msg := "m_refund_id " + mRefundID + " is already used by another refund of this merchant"
	if refundID != "" {
		msg += " (refund_id " + refundID + ")"
	}
	return posgate.Refuse(posgate.ErrInvalid, msg)
}

func notWaiting(r posgate.Refund) error {
	return posgate.Refuse(posgate.ErrInvalid, fmt.Sprintf("refund %s is %s; only refunds in %s can be approved or rejected", r.RefundID, r.State, posgate.RefundToBeApproved))
}

// processRefund sends a refund in processing to the acquirer, then records
// the outcome. An acquirer that does not answer leaves the refund in
// refund error: it may have been made, so its amount stays reserved.
func (s *Service) processRefund(ctx context.Context, r posgate.Refund, o posgate.Order) (posgate.Refund, posgate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	actx, cancel := context.WithTimeout(ctx, s.cfg.AcquirerTimeout)
	res, err := s.acquirer.Refund(actx, acquirer.Request{
		RefundID: r.RefundID, TradeID: r.TradeID, TransactionID: o.TransactionID,
		Amount: r.Amount, Currency: r.Currency, Description: r.Description,
	})
	cancel()
	next, msg := posgate.RefundRefunded, res.Message
	switch {
	case err != nil:
		s.log.Error("acquirer refund without answer", "refund_id", r.RefundID, "err", err)
		next, msg = posgate.RefundError, "The acquirer did not answer; the refund may have been made. Please contact support"
	case res.Outcome == acquirer.Failed:
		next = posgate.RefundFailed
	case res.Outcome != acquirer.Refunded:
		next = posgate.RefundError
	}
	r, o, _, err = s.moveRefund(ctx, r.RefundID, next, res.Reference, msg, nil)
	return r, o, err
}

// operatorAct is an operator's action to audit with the change it makes.
type operatorAct struct {
	by     string
	action posgate.Action
	detail string
}

// moveRefund applies posgate.RefundOutcome to the stored refund and its
// order, with the notification and act's audit record when act is set, in
// one transaction. changed is false (and nothing written) when the refund
// was not in a state next follows from.
func (s *Service) moveRefund(ctx context.Context, refundID string, next posgate.RefundState, acquirerRef, msg string, act *operatorAct) (r posgate.Refund, o posgate.Order, changed bool, err error) {
	err = s.refundTx(ctx, func(tx posgate.Tx) error {
		var err error
		if r, err = tx.Refund(refundID); err != nil {
			return err
		}
		if o, err = tx.Order(r.TradeID); err != nil {
			return err
		}
		nr, no, ok := posgate.RefundOutcome(r, o, next, acquirerRef, msg, s.now())
		if changed = ok; !ok {
			return nil
		}
		if err := tx.UpdateRefund(nr); err != nil {
			return err
		}
		nr.Version++
		if no.RefundedAmount != o.RefundedAmount {
			if err := tx.UpdateOrder(no); err != nil {
				return err
			}
			no.Version++
		}
		r, o = nr, no
		if act != nil {
			if err := s.audit(tx, act.by, act.action, r.TradeID, r.RefundID, act.detail); err != nil {
				return err
			}
		}
		return s.notifyRefund(tx, r, o)
	})
	if err == nil && changed && refundAnswered(r.State) {
		s.obs.RefundFinished(r.State)
	}
	return r, o, changed, err
}

// refundTx runs fn in a transaction, again when it lost a compare-and-set
// to a concurrent refund of the same order.
func (s *Service) refundTx(ctx context.Context, fn func(tx posgate.Tx) error) error {
	var err error
	for range conflictAttempts {
		if err = s.store.InTx(ctx, fn); !errors.Is(err, posgate.ErrConflict) {
			return err
		}
	}
	return err
}

// notifyRefund queues the refund's notification in the same transaction
// as its change, signed later with the secret of the refund's user.
func (s *Service) notifyRefund(tx posgate.Tx, r posgate.Refund, o posgate.Order) error {
	if r.NotifyURL == "" {
		return nil
	}
	now := s.now()
	return tx.InsertNotification(posgate.Notification{
		ID:          newID(),
		MerchantID:  r.MerchantID,
		User:        r.User,
		TradeID:     r.TradeID,
		RefundID:    r.RefundID,
		NotifyURL:   r.NotifyURL,
		Payload:     s.payloads.Refund(r, o),
		CreatedAt:   now,
		NextAttempt: now,
	})
}

// refundAnswered reports whether a refund in state has its outcome: it no
// longer waits for an operator or the acquirer.
func refundAnswered(state posgate.RefundState) bool {
	switch state {
	case posgate.RefundToBeApproved, posgate.RefundPending, posgate.RefundProcessing:
		return false
	}
	return true
}
