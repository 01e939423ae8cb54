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
// paid in [from, to), oldest first, handed to emit a page at a time.
func (s *Service) ExportPayments(ctx context.Context, c Caller, from, to time.Time, emit func([]posgate.Order) error) error {
	return exportPages(ctx, s, from, to, func(tx posgate.Tx, after posgate.ExportCursor) ([]posgate.Order, error) {
		return tx.PaidOrdersBetween(c.MerchantID, exportScope(c), from, to, after, posgate.ExportPage)
	}, func(o posgate.Order) posgate.ExportCursor { return posgate.ExportCursor{At: *o.PaidAt, ID: o.TradeID} }, emit)
}

// ExportRefunds is v3.TimeRefundOrder: the caller's refunds refunded in
// [from, to), paged like ExportPayments.
func (s *Service) ExportRefunds(ctx context.Context, c Caller, from, to time.Time, emit func([]posgate.Refund) error) error {
	return exportPages(ctx, s, from, to, func(tx posgate.Tx, after posgate.ExportCursor) ([]posgate.Refund, error) {
		return tx.RefundsBetween(c.MerchantID, exportScope(c), from, to, after, posgate.ExportPage)
	}, func(r posgate.Refund) posgate.ExportCursor {
		return posgate.ExportCursor{At: *r.RefundedAt, ID: r.RefundID}
	}, emit)
}

// exportPages reads an export a page at a time, each page in its own
// short transaction so neither memory nor a database snapshot grows with
// the range, and hands each to emit; cursor is where the next page starts.
func exportPages[T any](ctx context.Context, s *Service, from, to time.Time, read func(tx posgate.Tx, after posgate.ExportCursor) ([]T, error),
	cursor func(T) posgate.ExportCursor, emit func([]T) error) error {
	if err := posgate.CheckExportRange(from, to); err != nil {
		return err
	}
	var after posgate.ExportCursor
	for {
		var page []T
		if err := s.store.Read(ctx, func(tx posgate.Tx) error {
			var err error
			page, err = read(tx, after)
			return err
		}); err != nil {
			return err
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
			after = cursor(page[len(page)-1])
		}
		if len(page) < posgate.ExportPage {
			return nil
		}
	}
}
