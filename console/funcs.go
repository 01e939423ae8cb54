package console

import (
	"html/template"
	"strings"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/payment"
)

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"amount": func(minor int64, currency string) string {
		cur, _ := posgate.LookupCurrency(currency)
		return posgate.FormatAmount(minor, cur) + " " + currency
	},
	"summary":  func(e payment.TimelineEntry, o posgate.Order) string { return e.Summary(o) },
	"delivery": payment.DeliveryStatus,
	// stage is a stage as the screen mirror shows it: "waiting for card",
	// "result: approved".
	"stage": func(s posgate.Stage) string {
		return strings.ReplaceAll(strings.Replace(string(s), "result:", "result: ", 1), "_", " ")
	},
	"selected": func(a, b string) bool { return a == b },
}
