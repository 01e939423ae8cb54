package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
)

// Secrets as `posgate terminals add` and `posgate cashiers add` print them.
const (
	tid           = "T125119061"
	terminalKey   = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	tradeID       = "4a49ffb3-a30f-ba92-9422-1969afb6f121"
	alreadyRevved = "5feb401d-d9a4-776f-211f-882b60f14d9d"
)

// fakeGateway stands in for posgate in the examples: it checks the
// signature and answers a few requests the way posgate does.
func fakeGateway() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		req, err := protocol.DecodeRequest(body.Bytes())
		answer := protocol.Response{Code: protocol.CodeOK, ResponseID: "202501011200000000000001"}
		switch {
		case err != nil || !protocol.Verify(terminalKey, req.StringToSign(), req.Sign):
			answer.Code = protocol.CodeAuthFailed
		case req.Data["trade_id"] == alreadyRevved:
			answer.Code = protocol.CodeAlreadyCancelled
		case req.Method == sdk.MethodPOS:
			answer.Data = sdk.Order{Type: "payment", User: req.User, TradeID: tradeID, Amount: req.Data["amount"], Currency: req.Data["currency"], OrderID: req.Data["order_id"], State: sdk.StateProcessing}
		case req.Method == sdk.MethodPOSReversal:
			answer.Data = sdk.Order{Type: "payment", User: req.User, TradeID: req.Data["trade_id"], Amount: "12.50", Currency: "EUR", State: sdk.StateCancelled}
		default:
			answer.Code = protocol.CodeUnknownMethod
		}
		answer.Status = answer.Code == protocol.CodeOK
		if !answer.Status {
			answer.Message = answer.Code.Message()
		}
		json.NewEncoder(w).Encode(answer)
	}))
}

func Example() {
	gw := fakeGateway()
	defer gw.Close()
	ctx := context.Background()

	// POS methods are called as the terminal: user is its TID.
	till := sdk.New(gw.URL, tid, terminalKey)
	sale := &sdk.POSRequest{
		OrderID:     "202586556498441613",
		Amount:      sdk.FormatAmount(1250, "EUR"),
		Currency:    "EUR",
		Description: "Table 4",
		NotifyURL:   "https://till.example/notify",
	}
	order, err := till.POS(ctx, sale)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(order.TradeID, order.Amount, order.State)
	// The request_id was generated and kept: repeating sale after a lost
	// answer is safe, the gateway recognises it.
	fmt.Println(len(sale.RequestID))

	reversed, err := till.POSReversal(ctx, &sdk.POSReversalRequest{TradeID: order.TradeID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reversed.State)
	// Output:
	// 4a49ffb3-a30f-ba92-9422-1969afb6f121 12.50 processing
	// 32
	// cancelled
}

func ExampleError() {
	gw := fakeGateway()
	defer gw.Close()
	till := sdk.New(gw.URL, tid, terminalKey)

	_, err := till.POSReversal(context.Background(), &sdk.POSReversalRequest{TradeID: alreadyRevved})
	switch {
	case errors.Is(err, sdk.ErrAlreadyCancelled):
		fmt.Println("already reversed, nothing to do")
	case errors.Is(err, sdk.ErrTerminalOffline):
		fmt.Println("terminal offline: try v3.CancelPayment")
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Message, e.ResponseID)
	}
	// Output:
	// already reversed, nothing to do
	// -4116 The transaction has been cancelled 202501011200000000000001
}

func ExampleClient_Envelope() {
	till := sdk.New("http://127.0.0.1:8080", tid, terminalKey)
	till.Now = func() time.Time { return time.Unix(1555498137, 0) }
	body, toSign := till.Envelope(sdk.MethodPOSReversal, map[string]string{
		"tid": tid, "trade_id": tradeID, "request_id": "a7z1lox4l6z6mdx1udgn5gtezasze1x0",
	})
	fmt.Println(toSign)
	fmt.Println(string(body))
	// Output:
	// method=v3.POSReversal&request_id=a7z1lox4l6z6mdx1udgn5gtezasze1x0&tid=T125119061&time=1555498137&trade_id=4a49ffb3-a30f-ba92-9422-1969afb6f121&user=T125119061
	// {"user":"T125119061","sign":"5d14279e20d4e139b8be78808c00258e8aaa8ed7d9be3c772e2bce06aa756917","method":"v3.POSReversal","time":1555498137,"data":{"request_id":"a7z1lox4l6z6mdx1udgn5gtezasze1x0","tid":"T125119061","trade_id":"4a49ffb3-a30f-ba92-9422-1969afb6f121"}}
}

func ExampleNotificationHandler() {
	handler := sdk.NotificationHandler(sdk.SecretMap(map[string]string{tid: terminalKey}), func(n sdk.Notification) error {
		// Record the new state under n.ID first: the same notification can
		// come again, and must not be applied twice.
		fmt.Println(n.ID, n.Type(), n.TradeID(), n.State())
		return nil
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	// What the gateway sends: the data fields, signed with the secret of
	// data.user.
	data := map[string]string{"type": "payment", "user": tid, "trade_id": tradeID, "amount": "12.50", "currency": "EUR", "state": "paid"}
	body, _ := json.Marshal(protocol.Notification{Sign: protocol.SignFields(terminalKey, data), Data: data})
	post := func(body []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Webhook-Id", "ntf_01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	post(body)
	post(bytes.Replace(body, []byte("paid"), []byte("PAID"), 1)) // forged
	// Output:
	// ntf_01 payment 4a49ffb3-a30f-ba92-9422-1969afb6f121 paid
	// 200
	// 401
}

func ExampleFormatAmount() {
	fmt.Println(sdk.FormatAmount(1250, "EUR"), sdk.FormatAmount(5, "EUR"), sdk.FormatAmount(1250, "JPY"))
	minor, _ := sdk.ParseAmount("12.5", "EUR")
	fmt.Println(minor)
	// Output:
	// 12.50 0.05 1250
	// 1250
}
