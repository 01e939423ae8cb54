package payment

import (
	"context"
	"time"

	"github.com/posgate/posgate"
)

// exportScope is whose rows an export shows: a cashier its merchant's, a
// terminal the orders made on it (and their refunds).
func exportScope(c Caller) string {
	if c.Kind == posgate.KindTerminal {
		return c.User
	}
	return ""
}

// ExportPayments is v3.TimePayOrder: the caller's successful payments
// paid in [from, to), oldest first, handed to emit a page at a time, each
// page read in its own short transaction so neither memory nor a
// database snapshot grows with the range.
func (s *Service) ExportPayments(ctx context.Context, c Caller, from, to time.Time, emit func([]posgate.Order) error) error {
	if err := posgate.CheckExportRange(from, to); err != nil {
		return err
	}
	var after posgate.ExportCursor
	for {
		var page []posgate.Order
		if err := s.store.Read(ctx, func(tx posgate.Tx) error {
			var err error
			page, err = tx.PaidOrdersBetween(c.MerchantID, exportScope(c), from, to, after, posgate.ExportPage)
			return err
		}); err != nil {
			return err
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
			last := page[len(page)-1]
			after = posgate.ExportCursor{At: *last.PaidAt, ID: last.TradeID}
		}
		if len(page) < posgate.ExportPage {
			return nil
		}
	}
}

// ExportRefunds is v3.TimeRefundOrder: the caller's refunds refunded in
// [from, to), paged like ExportPayments.
func (s *Service) ExportRefunds(ctx context.Context, c Caller, from, to time.Time, emit func([]posgate.Refund) error) error {
	if err := posgate.CheckExportRange(from, to); err != nil {
		return err
	}
	var after posgate.ExportCursor
	for {
		var page []posgate.Refund
		if err := s.store.Read(ctx, func(tx posgate.Tx) error {
			var err error
			page, err = tx.RefundsBetween(c.MerchantID, exportScope(c), from, to, after, posgate.ExportPage)
			return err
		}); err != nil {
			return err
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
			last := page[len(page)-1]
			after = posgate.ExportCursor{At: *last.RefundedAt, ID: last.RefundID}
		}
		if len(page) < posgate.ExportPage {
			return nil
		}
	}
}
