package payment

import (
	"context"
	"errors"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
)

// AuthChangeInput is a validated v3.Capture or v3.PreauthDecrement
// request. Amount is the amount to capture, or the reduction of the
// authorised amount.
type AuthChangeInput struct {
	TradeID     string
	Amount      string // as sent; parsed in Currency
	Currency    string
	Description string
	NotifyURL   string
	RequestID   string // required: both move money
	Fingerprint string
}

// Capture is v3.Capture: the one capture of a pre-authorisation, made
// cloud-side. One transaction checks the rules, records the request_id,
// inserts the capture in processing (the store's one-capture-per-order
// index is the final guard) and writes the order, which serialises the
// capture with decrements, reversals and the expiry sweep of the same
// order. The acquirer's answer is then recorded: captured makes the order
// paid for the captured amount.
func (s *Service) Capture(ctx context.Context, c Caller, in AuthChangeInput) (posgate.Order, error) {
	var cp posgate.Capture
	var o posgate.Order
	err := s.refundTx(ctx, func(tx posgate.Tx) error {
		now := s.now()
		if err := checkDuplicate(tx, c.User, in.RequestID, in.Fingerprint); err != nil {
			return err
		}
		var err error
		if o, err = refundableOrder(tx, c, in.TradeID); err != nil {
			return err
		}
		amount, busy, err := s.authChange(tx, o, in)
		if err != nil {
			return err
		}
		if err := posgate.CheckCapture(o, amount, in.Currency, busy, now); err != nil {
			return err
		}
		cp = posgate.Capture{
			CaptureID: newID(), TradeID: o.TradeID, MerchantID: o.MerchantID, User: c.User, RequestID: in.RequestID,
			Amount: amount, AuthorisedAmount: o.Amount, Currency: o.Currency, Description: in.Description,
			NotifyURL: in.NotifyURL, State: posgate.CaptureProcessing, CreatedAt: now,
		}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: in.RequestID, Method: "v3.Capture", Fingerprint: in.Fingerprint, TradeID: o.TradeID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertCapture(cp); err != nil {
			if errors.Is(err, posgate.ErrAlreadyCaptured) {
				return posgate.Refuse(posgate.ErrAlreadyCaptured, "Capture not allowed: the authorisation has been captured already; each authorisation allows one capture")
			}
			return err
		}
		o.UpdatedAt = now
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		o.Version++
		return nil
	})
	if err != nil {
		return o, err
	}
	return s.completeCapture(ctx, cp, o)
}

// completeCapture asks the acquirer to make capture cp of order o (the
// capture id is its idempotency key) and records the answer, once.
func (s *Service) completeCapture(ctx context.Context, cp posgate.Capture, o posgate.Order) (posgate.Order, error) {
	res, err := s.callAcquirer(ctx, func(ctx context.Context) (acquirer.Result, error) {
		return s.acquirer.Capture(ctx, acquirer.AuthRequest{ID: cp.CaptureID, TradeID: o.TradeID, TransactionID: o.TransactionID, Amount: cp.Amount, Currency: cp.Currency})
	})
	next, msg := posgate.CaptureCaptured, res.Message
	switch {
	case err != nil:
		s.log.Error("acquirer capture without answer", "capture_id", cp.CaptureID, "trade_id", cp.TradeID, "err", err)
		next, msg = posgate.CaptureError, "The acquirer did not answer; the capture may have been made"
	case res.Outcome == acquirer.Failed:
		next = posgate.CaptureFailed
	case res.Outcome != acquirer.Approved:
		next = posgate.CaptureError
	}
	finished := false
	err = s.refundTx(ctx, func(tx posgate.Tx) error {
		var err error
		finished = false
		if o, err = tx.Order(cp.TradeID); err != nil {
			return err
		}
		nc, no, _ := posgate.CaptureOutcome(cp, o, next, res.Reference, msg, s.now())
		if finished, err = tx.FinishCapture(nc); err != nil || !finished {
			return err
		}
		if no.State == o.State {
			return nil
		}
		if o, err = s.saveOrder(tx, no); err != nil {
			return err
		}
		return s.notifyRequester(tx, o, cp.User, cp.NotifyURL)
	})
	if err != nil {
		return o, err
	}
	if finished {
		s.obs.CaptureFinished(next)
	}
	return o, acquirerRefusal(next == posgate.CaptureFailed, next == posgate.CaptureError, "capture", msg, o)
}

// Decrement is v3.PreauthDecrement: amount is the reduction, and the
// answer shows the authorised amount that remains (the reference's
// example answers "1" to a request of "0.1"). The reduction is taken from
// the order, and recorded as a decrement row, before the acquirer is
// asked, so a concurrent capture can never exceed what the acquirer still
// holds; a refusal gives it back, an unknown outcome keeps it off
// (capturing less than is held is safe).
func (s *Service) Decrement(ctx context.Context, c Caller, in AuthChangeInput) (posgate.Order, error) {
	var o posgate.Order
	var d posgate.Decrement
	err := s.refundTx(ctx, func(tx posgate.Tx) error {
		now := s.now()
		if err := checkDuplicate(tx, c.User, in.RequestID, in.Fingerprint); err != nil {
			return err
		}
		var err error
		if o, err = refundableOrder(tx, c, in.TradeID); err != nil {
			return err
		}
		reduction, busy, err := s.authChange(tx, o, in)
		if err != nil {
			return err
		}
		if err := posgate.CheckDecrement(o, reduction, in.Currency, busy, now); err != nil {
			return err
		}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: in.RequestID, Method: "v3.PreauthDecrement", Fingerprint: in.Fingerprint, TradeID: o.TradeID, CreatedAt: now}); err != nil {
			return err
		}
		d = posgate.Decrement{
			DecrementID: newID(), TradeID: o.TradeID, MerchantID: o.MerchantID, User: c.User, RequestID: in.RequestID,
			Amount: reduction, Before: o.Amount, After: o.Amount - reduction, Currency: o.Currency,
			Description: in.Description, NotifyURL: in.NotifyURL, State: posgate.DecrementProcessing, CreatedAt: now,
		}
		if err := tx.InsertDecrement(d); err != nil {
			return err
		}
		o.Amount = d.After
		o.UpdatedAt = now
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		o.Version++
		return nil
	})
	if err != nil {
		return o, err
	}
	return s.completeDecrement(ctx, d, o)
}

// completeDecrement asks the acquirer to make decrement d of order o (the
// decrement id is its idempotency key) and records the answer, once.
func (s *Service) completeDecrement(ctx context.Context, d posgate.Decrement, o posgate.Order) (posgate.Order, error) {
	res, err := s.callAcquirer(ctx, func(ctx context.Context) (acquirer.Result, error) {
		return s.acquirer.Decrement(ctx, acquirer.AuthRequest{ID: d.DecrementID, TradeID: o.TradeID, TransactionID: o.TransactionID, Amount: d.Amount, Currency: d.Currency})
	})
	next, msg := posgate.DecrementDecremented, res.Message
	switch {
	case err != nil:
		s.log.Error("acquirer decrement without answer", "decrement_id", d.DecrementID, "trade_id", o.TradeID, "err", err)
		next, msg = posgate.DecrementError, "The acquirer did not answer; the decrement may have been made"
	case res.Outcome == acquirer.Failed:
		next = posgate.DecrementFailed
	case res.Outcome != acquirer.Approved:
		next = posgate.DecrementError
	}
	err = s.refundTx(ctx, func(tx posgate.Tx) error {
		var err error
		if o, err = tx.Order(d.TradeID); err != nil {
			return err
		}
		nd, no, _ := posgate.DecrementOutcome(d, o, next, res.Reference, msg, s.now())
		if done, err := tx.FinishDecrement(nd); err != nil || !done {
			return err
		}
		if no.Amount != o.Amount {
			if err := tx.UpdateOrder(no); err != nil {
				return err
			}
			o = no
			o.Version++
		}
		if next != posgate.DecrementDecremented {
			return nil
		}
		// The authorised amount is the order's amount: notified like a
		// change of state, to the order's and the requester's endpoints.
		if err := s.notifyOrder(tx, o); err != nil {
			return err
		}
		return s.notifyRequester(tx, o, d.User, d.NotifyURL)
	})
	if err != nil {
		return o, err
	}
	return o, acquirerRefusal(next == posgate.DecrementFailed, next == posgate.DecrementError, "decrement", msg, o)
}

// authChange parses the amount of a capture or decrement in the currency
// asked for (the rules then refuse another currency than the order's),
// and says what in flight on the order makes it wait.
func (s *Service) authChange(tx posgate.Tx, o posgate.Order, in AuthChangeInput) (int64, string, error) {
	cur, ok := posgate.LookupCurrency(in.Currency)
	if !ok {
		return 0, "", posgate.Refuse(posgate.ErrInvalid, "currency "+in.Currency+" is not supported")
	}
	amount, err := posgate.ParseAmount(in.Amount, cur)
	if err != nil {
		return 0, "", posgate.Refuse(posgate.ErrInvalid, "amount: "+err.Error())
	}
	_, inFlight, err := s.reversalContext(tx, o)
	if err != nil {
		return 0, "", err
	}
	if inFlight {
		return amount, "a reversal of it is in flight on the terminal", nil
	}
	cp, err := tx.ActiveCapture(o.TradeID)
	switch {
	case errors.Is(err, posgate.ErrNotFound):
		return amount, "", nil
	case err != nil:
		return 0, "", err
	case cp.State == posgate.CaptureError:
		return amount, "its capture " + cp.CaptureID + " has an unknown outcome; please contact support", nil
	case cp.State == posgate.CaptureProcessing:
		return amount, "a capture of it is in flight", nil
	}
	return amount, "", nil
}

// callAcquirer bounds one acquirer call; the caller's context does not: a
// client that hangs up must not leave an operation half recorded.
func (s *Service) callAcquirer(ctx context.Context, call func(ctx context.Context) (acquirer.Result, error)) (acquirer.Result, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AcquirerTimeout)
	defer cancel()
	return call(actx)
}

// acquirerRefusal is the answer to a capture or decrement the acquirer
// refused or left unknown, with the order as it now is.
func acquirerRefusal(declined, unknown bool, what, msg string, o posgate.Order) error {
	switch {
	case declined:
		return &WaitError{Err: posgate.Refuse(posgate.ErrAcquirerDeclined, "Declined by the acquirer: the "+what+" was not made and the authorisation is unchanged: "+msg), Order: o}
	case unknown:
		return &WaitError{Err: posgate.Refuse(posgate.ErrAcquirerUnknown, "The acquirer's answer to the "+what+" is unknown ("+msg+"); please contact support before trying again"), Order: o}
	}
	return nil
}

// notifyRequester also sends the order's change to the notify_url of the
// capture or decrement that made it, signed with its requester's secret,
// unless that is the order's own endpoint and signer (notified already).
func (s *Service) notifyRequester(tx posgate.Tx, o posgate.Order, user, notifyURL string) error {
	if notifyURL == "" || (notifyURL == o.NotifyURL && user == o.User) {
		return nil
	}
	now := s.now()
	return tx.InsertNotification(posgate.Notification{
		ID: newID(), MerchantID: o.MerchantID, User: user, TradeID: o.TradeID, NotifyURL: notifyURL,
		Payload: s.payloads.Order(o), CreatedAt: now, NextAttempt: now,
	})
}

// Authorisation expiry: the sweep runs every authExpiryEvery in one
// process of a cluster (ClaimJob), a batch at a time.
const (
	authExpiryJob   = "expire-authorisations"
	authExpiryEvery = time.Minute
	authExpiryBatch = 100
)

// expireAuthorisations expires the authorized orders whose 30 days have
// passed without a capture, each in its own transaction whose
// compare-and-set on the order loses to a concurrent capture (which then
// goes first) or another process's sweep.
func (s *Service) expireAuthorisations(ctx context.Context) error {
	now := s.now()
	var claimed bool
	if err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		var err error
		claimed, err = tx.ClaimJob(authExpiryJob, now, now.Add(authExpiryEvery))
		return err
	}); err != nil || !claimed {
		return err
	}
	for {
		var due []posgate.Order
		if err := s.store.Read(ctx, func(tx posgate.Tx) error {
			var err error
			due, err = tx.StaleAuthorisations(now.Add(-posgate.AuthorisationValidity), authExpiryBatch)
			return err
		}); err != nil {
			return err
		}
		expired := 0
		for _, o := range due {
			next, ok := posgate.ExpireAuthorisation(o, now)
			if !ok {
				continue
			}
			err := s.store.InTx(ctx, func(tx posgate.Tx) error {
				_, err := s.saveOrder(tx, next)
				return err
			})
			switch {
			case err == nil:
				expired++
			case !errors.Is(err, posgate.ErrConflict):
				return err
			}
		}
		if len(due) < authExpiryBatch || expired == 0 {
			return nil
		}
	}
}

// notCaptured refuses to reverse or cancel a pre-authorisation that a
// capture has taken or may be taking: that money moved cloud-side, so it
// goes back by v3.CreateRefund.
func notCaptured(tx posgate.Tx, o posgate.Order) error {
	if o.Operation != posgate.OpAuthorisation {
		return nil
	}
	cp, err := tx.ActiveCapture(o.TradeID)
	switch {
	case errors.Is(err, posgate.ErrNotFound):
		return nil
	case err != nil:
		return err
	case cp.State == posgate.CaptureCaptured:
		return posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: the authorisation has been captured; use v3.CreateRefund")
	}
	return posgate.Refuse(posgate.ErrNotCancellable, "The transaction cannot be cancelled: a capture of it is in flight or has an unknown outcome")
}
