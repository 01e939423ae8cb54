package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/spf13/cobra"
)

func callCmd(e *env) *cobra.Command {
	var server, user, secret, at string
	var dryRun bool
	c := &cobra.Command{
		Use:   "call METHOD [key=value ...]",
		Short: "Sign and send one API request; print the answer as indented JSON",
		Long: `Sign and send one request to POST /Payments and print the answer. Exits
non-zero when the answer's status is false. METHOD is for example v3.POS
(the v3. may be left out); key=value pairs are the data fields. For the POS
methods tid defaults to --user; v3.POS, v3.POSCancel, v3.POSReversal,
v3.CreateRefund, v3.Capture and v3.PreauthDecrement get a fresh request_id
when none is given. v3.TimePayOrder and v3.TimeRefundOrder (start_time and
end_time in Unix seconds) write the CSV file to stdout as it arrives.

--dry-run prints the string to sign, the signature and the body instead of
sending them.`,
		Example: `  posgate call v3.QueryOrder --user 016683 --secret $SECRET trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121
  posgate call POSReversal --user T125119061 --secret $SECRET trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121
  posgate call Capture --user 016683 --secret $SECRET trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121 amount=80 currency=EUR description=stay notify_url=https://shop.example/notify
  posgate call TimePayOrder --user 016683 --secret $SECRET start_time=1569894340 end_time=1572486340 > payments.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if secret == "" {
				return fmt.Errorf("--secret (or POSGATE_SECRET) is required")
			}
			method := args[0]
			if !strings.Contains(method, ".") {
				method = "v3." + method
			}
			data := map[string]string{}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q is not key=value", kv)
				}
				if _, dup := data[k]; dup {
					return fmt.Errorf("field %q given twice", k)
				}
				data[k] = v
			}
			switch method {
			case sdk.MethodPOS, sdk.MethodPOSCancel, sdk.MethodPOSReversal:
				if _, ok := data["tid"]; !ok {
					data["tid"] = user
				}
			}
			switch method {
			case sdk.MethodPOS, sdk.MethodPOSCancel, sdk.MethodPOSReversal, sdk.MethodCreateRefund, sdk.MethodCapture, sdk.MethodPreauthDecrement:
				if _, ok := data["request_id"]; !ok {
					data["request_id"] = sdk.NewRequestID()
				}
			}
			client := sdk.New(server, user, secret)
			if at != "" {
				unix, err := strconv.ParseInt(at, 10, 64)
				if err != nil {
					return fmt.Errorf("--time %q: want Unix seconds", at)
				}
				client.Now = func() time.Time { return time.Unix(unix, 0) }
			}
			if dryRun {
				body, toSign := client.Envelope(method, data)
				fmt.Fprintf(e.stdout, "string_to_sign=%s\nsign=%s\nbody=%s\n", toSign, protocol.Sign(secret, toSign), body)
				return nil
			}
			if method == sdk.MethodTimePayOrder || method == sdk.MethodTimeRefundOrder {
				return exportCSV(cmd.Context(), client, method, data, e.stdout)
			}
			resp, err := client.Call(cmd.Context(), method, data)
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(resp, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", out)
			if !resp.Status {
				return fmt.Errorf("%s: %s (response_id %s)", resp.Code, resp.Message, resp.ResponseID)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:8080", "gateway base URL")
	f.StringVar(&user, "user", "", "the caller: a terminal's TID or a cashier's UID")
	f.StringVar(&secret, "secret", "", "the user's secret_key; prefer the variable, which other users cannot see in ps")
	envFlag(f, "server", "POSGATE_SERVER")
	envFlag(f, "user", "POSGATE_USER")
	envFlag(f, "secret", "POSGATE_SECRET")
	f.StringVar(&at, "time", "", "sign with this Unix time instead of now (to reproduce a signature)")
	f.BoolVar(&dryRun, "dry-run", false, "print the string to sign, the signature and the body; send nothing")
	return c
}

// exportCSV runs an export method, copying its CSV to w as it arrives; a
// refusal is the error (and nothing is written).
func exportCSV(ctx context.Context, client *sdk.Client, method string, data map[string]string, w io.Writer) error {
	var at [2]time.Time
	for i, k := range []string{"start_time", "end_time"} {
		v, ok := data[k]
		if !ok {
			return fmt.Errorf("%s needs %s=UNIX_SECONDS", method, k)
		}
		unix, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s=%q: want Unix seconds", k, v)
		}
		at[i] = time.Unix(unix, 0)
	}
	if len(data) != 2 {
		return fmt.Errorf("%s takes only start_time and end_time", method)
	}
	if method == sdk.MethodTimePayOrder {
		return client.TimePayOrder(ctx, at[0], at[1], w)
	}
	return client.TimeRefundOrder(ctx, at[0], at[1], w)
}
