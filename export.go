package posgate

import (
	"fmt"
	"time"
)

// MaxExportRange is the longest period one v3.TimePayOrder or
// v3.TimeRefundOrder export covers: a month and a day, so a calendar
// month in any time zone fits in one request.
const MaxExportRange = 32 * 24 * time.Hour

// ExportPage is how many rows an export reads per store transaction: the
// memory an export holds, whatever its length.
const ExportPage = 500

// ExportCursor is the last row of the previous page: its time and id.
type ExportCursor struct {
	At time.Time
	ID string
}

// CheckExportRange decides whether [from, to) may be exported.
func CheckExportRange(from, to time.Time) error {
	if !to.After(from) {
		return Refuse(ErrInvalid, "end_time must be after start_time")
	}
	if to.Sub(from) > MaxExportRange {
		return Refuse(ErrInvalid, fmt.Sprintf("the range from start_time to end_time is %s; at most %d days can be exported at once", to.Sub(from).Round(time.Second), int(MaxExportRange/(24*time.Hour))))
	}
	return nil
}
