package httpapi

import (
	"context"
	"encoding/csv"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
	"github.com/posgate/posgate/protocol"
)

// csvExport is an answer sent as a CSV file instead of the envelope
// ("This interface directly exports the csv file"): rows are written as
// the pages are read, so memory does not grow with the range.
type csvExport struct {
	filename string
	header   []string
	// rows writes the rows through emit, a page at a time.
	rows func(ctx context.Context, emit func(rows [][]string) error) error
}

// Columns of the exports (docs/api.md). Amounts in major units with the
// currency's minor digits, times in Unix seconds, like the API's answers.
var (
	paymentColumns = []string{"trade_id", "order_id", "tid", "user", "state", "amount", "tip_amount", "refunded_amount",
		"currency", "transaction_id", "pay_method", "sub_pay_method", "description", "demo", "createDate", "paid_time"}
	refundColumns = []string{"refund_id", "trade_id", "m_refund_id", "user", "state", "refund_amount", "refund_currency",
		"acquirer_reference", "refund_description", "refund_time", "refunded_time"}
)

var unixPattern = regexp.MustCompile(`^[0-9]{1,12}$`)

func exportRange(d map[string]string) (time.Time, time.Time, error) {
	var out [2]time.Time
	for i, f := range []string{"start_time", "end_time"} {
		if !unixPattern.MatchString(d[f]) {
			return time.Time{}, time.Time{}, invalid("%s must be Unix seconds", f)
		}
		n, _ := strconv.ParseInt(d[f], 10, 64)
		out[i] = time.Unix(n, 0).UTC()
	}
	return out[0], out[1], posgate.CheckExportRange(out[0], out[1])
}

func (a *api) timePayOrder(_ context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	from, to, err := exportRange(r.Data)
	if err != nil {
		return nil, err
	}
	return csvExport{
		filename: "payments-" + r.Data["start_time"] + "-" + r.Data["end_time"] + ".csv",
		header:   paymentColumns,
		rows: func(ctx context.Context, emit func([][]string) error) error {
			return a.svc.ExportPayments(ctx, c, from, to, func(page []posgate.Order) error {
				rows := make([][]string, len(page))
				for i, o := range page {
					v := viewTransaction(o, posgate.Merchant{})
					rows[i] = []string{v.TradeID, v.OrderID, v.TID, v.User, v.State, v.Amount, v.TipAmount, v.RefundedAmount,
						v.Currency, v.TransactionID, v.PayMethod, v.SubPayMethod, v.Description, v.Demo, v.CreatedAt, v.PaidTime}
				}
				return emit(rows)
			})
		},
	}, nil
}

func (a *api) timeRefundOrder(_ context.Context, c payment.Caller, r *protocol.Request) (any, error) {
	from, to, err := exportRange(r.Data)
	if err != nil {
		return nil, err
	}
	return csvExport{
		filename: "refunds-" + r.Data["start_time"] + "-" + r.Data["end_time"] + ".csv",
		header:   refundColumns,
		rows: func(ctx context.Context, emit func([][]string) error) error {
			return a.svc.ExportRefunds(ctx, c, from, to, func(page []posgate.Refund) error {
				rows := make([][]string, len(page))
				for i, rf := range page {
					v := viewRefund(rf, posgate.Order{}, a.cfg.SimulatedAcquirer)
					rows[i] = []string{v.RefundID, v.TradeID, string(v.MRefundID), rf.User, v.State, v.RefundAmount, v.RefundCurrency,
						v.AcquirerReference, v.RefundDescription, v.RefundTime, v.RefundedTime}
				}
				return emit(rows)
			})
		},
	}, nil
}

// streamCSV writes the export. Once the first byte is out the envelope
// can no longer say that something failed, so a failure then aborts the
// connection: the client sees a broken transfer, never a short file that
// looks complete.
func (a *api) streamCSV(w http.ResponseWriter, r *http.Request, rid string, exp csvExport) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+exp.filename+`"`)
	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	write := func(rows [][]string) error {
		// The write deadline bounds a stalled reader, page by page, not
		// the whole export.
		rc.SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
		for _, row := range rows {
			for i := range row {
				row[i] = cell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write([][]string{append([]string(nil), exp.header...)}); err == nil {
		err = exp.rows(r.Context(), write)
		if err == nil {
			return
		}
		a.log.Error("export aborted", "response_id", rid, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// cell keeps a value from being read as a formula by a spreadsheet (CSV
// injection): text a merchant or customer wrote may start with = + - @.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
