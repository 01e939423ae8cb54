package payment

import (
	"context"

	"github.com/posgate/posgate"
)

// SaleInput is a validated v3.POS request.
type SaleInput struct {
	Operation    posgate.Operation
	OrderID      string
	Amount       string // as sent; parsed against the terminal's currency
	TipAmount    string
	Currency     string
	Description  string
	Demo         string
	NotifyURL    string
	PayMethod    string
	SubPayMethod string
	RequestID    string
	Fingerprint  string
}

// StartSale creates the order, sends the sale (or authorisation) to the
// caller's terminal and returns once the terminal shows the amount, with
// the order processing. The outcome follows by notification. A refused
// request creates nothing.
func (s *Service) StartSale(ctx context.Context, c Caller, in SaleInput) (posgate.Order, error) {
	now := s.now()
	var o posgate.Order
	var cmd posgate.Command
	err := s.store.InTx(ctx, func(tx posgate.Tx) error {
		term, err := tx.Terminal(c.User)
		if err != nil {
			return err
		}
		if in.Currency != term.Currency {
			return posgate.Refuse(posgate.ErrInvalid, "currency must be the terminal's currency "+term.Currency)
		}
		cur, _ := posgate.LookupCurrency(term.Currency)
		amount, err := posgate.ParseAmount(in.Amount, cur)
		if err != nil {
			return posgate.Refuse(posgate.ErrInvalid, "amount: "+err.Error())
		}
		if amount < cur.Min {
			return posgate.Refuse(posgate.ErrInvalid, "amount is below the minimum of "+posgate.FormatAmount(cur.Min, cur)+" "+cur.Code)
		}
		var tip int64
		if in.TipAmount != "" {
			if tip, err = posgate.ParseAmount(in.TipAmount, cur); err != nil {
				return posgate.Refuse(posgate.ErrInvalid, "tip_amount: "+err.Error())
			}
			if tip > amount {
				return posgate.Refuse(posgate.ErrInvalid, "tip_amount is included in amount and cannot exceed it")
			}
		}
		loc, err := s.location(term.Timezone)
		if err != nil {
			return err
		}
		if err := checkDuplicate(tx, c.User, in.RequestID, in.Fingerprint); err != nil {
			return err
		}
		if !s.link.Online(term.TID) {
			return posgate.Refuse(posgate.ErrTerminalOffline, "Terminal offline: the terminal "+term.TID+" is not connected")
		}
		o = posgate.Order{
			TradeID: newID(), MerchantID: c.MerchantID, TID: term.TID, User: c.User,
			OrderID: in.OrderID, Operation: in.Operation, Amount: amount, TipAmount: tip,
			Currency: term.Currency, Description: in.Description, Demo: in.Demo, NotifyURL: in.NotifyURL,
			PayMethod: in.PayMethod, SubPayMethod: in.SubPayMethod, State: posgate.StateProcessing,
			CreatedAt: now, UpdatedAt: now, BusinessDate: posgate.BusinessDate(now, loc),
			ExpiresAt: now.Add(s.cfg.SaleTimeout),
		}
		kind := posgate.CommandSale
		if in.Operation == posgate.OpAuthorisation {
			kind = posgate.CommandAuthorisation
		}
		cmd = posgate.Command{ID: newID(), TID: term.TID, Kind: kind, TradeID: o.TradeID, State: posgate.CommandInFlight, CreatedAt: now}
		if err := tx.InsertRequest(posgate.RequestRecord{User: c.User, RequestID: in.RequestID, Method: "v3.POS", Fingerprint: in.Fingerprint, TradeID: o.TradeID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertOrder(o); err != nil {
			return err
		}
		if err := tx.InsertCommand(cmd); err != nil {
			return err
		}
		return s.notifyOrder(tx, o)
	})
	if err != nil {
		return posgate.Order{}, err
	}
	w := s.dispatch(ctx, cmd, o, now)
	defer s.unregister(cmd.ID)
	return s.waitShown(ctx, w, cmd.ID, o)
}

// waitShown waits until the terminal shows the command and returns the
// order as it was then: processing. When the terminal finished without
// showing anything (a failure at once), the order is returned as it is.
func (s *Service) waitShown(ctx context.Context, w *waiter, commandID string, created posgate.Order) (posgate.Order, error) {
	timedOut, err := s.awaitCommand(ctx, w, commandID, w.shown, true, s.cfg.DisplayWait)
	if err != nil {
		return posgate.Order{}, err
	}
	if w.displayed.Load() {
		return created, nil
	}
	o, err := s.order(ctx, created.TradeID)
	if err != nil {
		return o, err
	}
	if timedOut {
		return o, &WaitError{Err: posgate.Refuse(posgate.ErrTerminalTimeout, "The terminal has not shown the payment in time; the outcome will follow by notification and v3.QueryOrder"), Order: o}
	}
	return o, nil
}

// WaitError is a refusal that still carries the order, for the response's
// data.
type WaitError struct {
	Err   error
	Order posgate.Order
}

func (e *WaitError) Error() string { return e.Err.Error() }
func (e *WaitError) Unwrap() error { return e.Err }

func (s *Service) order(ctx context.Context, tradeID string) (posgate.Order, error) {
	var o posgate.Order
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		o, err = tx.Order(tradeID)
		return err
	})
	return o, err
}
