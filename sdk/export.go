package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// The export methods; their answer is a CSV file, not the envelope.
const (
	MethodTimePayOrder    = "v3.TimePayOrder"
	MethodTimeRefundOrder = "v3.TimeRefundOrder"
)

// TimePayOrder copies the CSV of the merchant's successful payments paid
// in [start, end) to w as it arrives (columns: docs/api.md). A refusal is
// an *Error, and nothing is written to w.
func (c *Client) TimePayOrder(ctx context.Context, start, end time.Time, w io.Writer) error {
	return c.export(ctx, MethodTimePayOrder, start, end, w)
}

// TimeRefundOrder is TimePayOrder for the merchant's refunds, by the time
// they were refunded.
func (c *Client) TimeRefundOrder(ctx context.Context, start, end time.Time, w io.Writer) error {
	return c.export(ctx, MethodTimeRefundOrder, start, end, w)
}

func (c *Client) export(ctx context.Context, method string, start, end time.Time, w io.Writer) error {
	body, _ := c.Envelope(method, map[string]string{
		"start_time": strconv.FormatInt(start.Unix(), 10), "end_time": strconv.FormatInt(end.Unix(), 10),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/Payments", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "text/csv" && resp.StatusCode == http.StatusOK {
		// A gateway that fails mid-export breaks the transfer, which
		// io.Copy reports: a short file is never taken for a whole one.
		_, err := io.Copy(w, resp.Body)
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var out Response
	if err := json.Unmarshal(raw, &out); err != nil || out.Code == "" {
		return &statusError{status: resp.StatusCode, body: string(raw[:min(len(raw), 200)])}
	}
	if !out.Status {
		return &Error{Code: out.Code, Message: out.Message, ResponseID: out.ResponseID, Data: out.Data}
	}
	return fmt.Errorf("posgate: %s answered an envelope without the CSV (response_id %s)", method, out.ResponseID)
}
