package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/termproto"
)

// cardFields are the receipt fields posgate adds to an order's answer and
// notification.
var cardFields = []string{"card_brand", "card_masked_pan", "card_entry_mode", "card_auth_code", "card_aid"}

// A sale approved by a simulated terminal carries its receipt data: in
// v3.QueryOrder's transaction_info, in the signed notification (the other
// fields as without it), and on the command's record. 10.00 is 1000 minor
// units, 1000 mod 3 = 1: the simulator's Mastercard read by chip.
func TestReceiptOfASale(t *testing.T) {
	t.Parallel()
	g := start(t, fastRetries)
	secret := g.addTerminal("Shop A", "TRCPT1", "")
	g.connect("TRCPT1", secret)
	till := g.client("TRCPT1", secret)
	rcv := newReceiver(t, always(http.StatusOK))

	d := saleData("TRCPT1", "10.00")
	d["notify_url"] = rcv.URL
	r := call(t, till, "v3.POS", d)
	require.True(t, r.Status, "sale: %s %s", r.Code, r.Message)
	o := orderOf(t, r)
	require.Empty(t, o.CardMaskedPAN, "not approved yet when v3.POS answers")
	info := waitState(t, till, o.TradeID, "paid")
	require.Equal(t, "Mastercard", info.CardBrand)
	require.Equal(t, "555555******4444", info.CardMaskedPAN)
	require.Equal(t, "chip", info.CardEntryMode)
	require.Regexp(t, regexp.MustCompile(`^\d{6}$`), info.CardAuthCode)
	require.Equal(t, "A0000000041010", info.CardAID)

	hits := rcv.wait(t, "the paid notification", func(hs []hit) bool {
		for _, h := range hs {
			if strings.Contains(string(h.Body), `"paid"`) {
				return true
			}
		}
		return false
	})
	var data map[string]string
	for _, h := range hits {
		if strings.Contains(string(h.Body), `"paid"`) {
			data = verify(t, secret, h.Body) // the signature covers the card fields
		}
	}
	want := map[string]string{"card_brand": "Mastercard", "card_masked_pan": "555555******4444", "card_entry_mode": "chip",
		"card_auth_code": info.CardAuthCode, "card_aid": "A0000000041010"}
	for _, k := range cardFields {
		require.Equal(t, want[k], data[k], k)
		delete(data, k)
	}
	// Without them, the notification is the order's fields as before.
	require.Equal(t, map[string]string{"type": "payment", "user": "TRCPT1", "amount": "10.00", "currency": "EUR",
		"trade_id": o.TradeID, "description": d["description"], "order_id": d["order_id"], "createDate": o.CreateDate,
		"demo": o.Demo, "transaction_id": info.TransactionID, "state": "paid", "tip_amount": "0.00", "pay_method": "offline",
		"sub_pay_method": "point_of_sales", "paid_time": info.PaidTime, "sequence": data["sequence"]}, data)

	var brand, pan, auth string
	require.NoError(t, g.G.Store.Read(context.Background(), func(tx posgate.Tx) error {
		cmd, err := tx.CommandForTrade(o.TradeID, posgate.CommandSale)
		brand, pan, auth = cmd.Receipt.CardBrand, cmd.Receipt.MaskedPAN, cmd.Receipt.AuthCode
		return err
	}))
	require.Equal(t, []string{"Mastercard", "555555******4444", info.CardAuthCode}, []string{brand, pan, auth}, "recorded with the result")

	var tl struct {
		Order map[string]any `json:"order"`
	}
	require.Equal(t, http.StatusOK, g.adminGet(t, "/admin/v1/orders/"+o.TradeID, &tl))
	require.Equal(t, "555555******4444", tl.Order["card_masked_pan"], "operators see the receipt data too")
	require.Equal(t, "A0000000041010", tl.Order["card_aid"])
}

// A pre-authorisation's approval carries its receipt data too, and keeps
// it through the capture.
func TestReceiptOfAnAuthorisation(t *testing.T) {
	t.Parallel()
	g := start(t)
	secret := g.addTerminal("Shop A", "TRCPT2", "")
	g.connect("TRCPT2", secret)
	till := g.client("TRCPT2", secret)
	o := authorised(t, till, "TRCPT2", "100.02") // 10002 mod 3 = 0: Visa, contactless
	info := queryOrder(t, till, o.TradeID)
	require.Equal(t, []string{"Visa", "411111******1111", "contactless", "A0000000031010"},
		[]string{info.CardBrand, info.CardMaskedPAN, info.CardEntryMode, info.CardAID})
	changeAuth(t, till, "v3.Capture", authChangeData(o.TradeID, "100.02"))
	after := waitState(t, till, o.TradeID, "paid")
	require.Equal(t, info.Card, after.Card)
}

// rawTerminal is a terminal driven frame by frame over a real connection.
type rawTerminal struct {
	t   *testing.T
	ctx context.Context
	ws  *websocket.Conn
}

func (g *gateway) rawTerminal(t *testing.T, tid, secret string) *rawTerminal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+termproto.Path,
		&websocket.DialOptions{Subprotocols: []string{termproto.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	rt := &rawTerminal{t: t, ctx: ctx, ws: ws}
	now := g.Clock.Now().Unix()
	nonce := fmt.Sprintf("%016x", time.Now().UnixNano())
	rt.send(termproto.Frame{Type: termproto.TypeHello, TID: tid, Time: now, Nonce: nonce, Version: termproto.Version,
		Sign: termproto.SignHello(secret, tid, now, nonce, termproto.Version)})
	require.Equal(t, termproto.TypeWelcome, rt.read().Type)
	g.waitOnline(tid, true)
	return rt
}

func (rt *rawTerminal) send(f termproto.Frame) {
	rt.t.Helper()
	b, err := termproto.Encode(f)
	require.NoError(rt.t, err)
	rt.sendRaw(b)
}

func (rt *rawTerminal) sendRaw(b []byte) {
	rt.t.Helper()
	require.NoError(rt.t, rt.ws.Write(rt.ctx, websocket.MessageText, b))
}

func (rt *rawTerminal) read() termproto.Frame {
	rt.t.Helper()
	_, b, err := rt.ws.Read(rt.ctx)
	require.NoError(rt.t, err)
	f, err := termproto.Decode(b)
	require.NoError(rt.t, err)
	return f
}

// A terminal whose result holds what could be a full card number (in the
// masked PAN field, Luhn-valid; in the message, Luhn-invalid and spaced)
// gets a protocol error and loses its connection, and nothing of the
// result is recorded: the command stays in flight, the order processing,
// no event, no notification. The same result without the number, sent
// after reconnecting, is applied.
func TestFullPANRefusedNothingRecorded(t *testing.T) {
	t.Parallel()
	g := start(t)
	secret := g.addTerminal("Shop A", "TRCPT3", "")
	till := g.client("TRCPT3", secret)
	for _, tc := range []struct {
		name string
		mod  func(f *termproto.Frame)
	}{
		{"luhn-valid in card_masked_pan", func(f *termproto.Frame) { f.CardMaskedPAN = "4111111111111111" }},
		{"luhn-invalid in the message", func(f *termproto.Frame) { f.Message = "Approved 4111 1111 1111 1112" }},
	} {
		rt := g.rawTerminal(t, "TRCPT3", secret)
		answered := make(chan *sdk.Response, 1)
		go func() {
			r, err := till.Call(context.Background(), "v3.POS", saleData("TRCPT3", "10.00"))
			if err != nil {
				r = &sdk.Response{Message: err.Error()}
			}
			answered <- r
		}()
		cmd := rt.read()
		require.Equal(t, termproto.TypeCommand, cmd.Type)
		rt.send(termproto.Frame{Type: termproto.TypeProgress, ID: cmd.ID, Stage: termproto.StageOnScreen})
		r := <-answered
		// -4203 (not shown in time, on a loaded machine) carries the order too.
		require.True(t, r.Status || r.Code == protocol.CodeTerminalTimeout, "%s: sale: %s %s", tc.name, r.Code, r.Message)
		tradeID := orderOf(t, r).TradeID
		before := g.count()

		res := termproto.Frame{Type: termproto.TypeResult, ID: cmd.ID, Outcome: termproto.OutcomeApproved, TransactionID: "ACQ1",
			CardBrand: "Visa", CardMaskedPAN: "411111******1111", CardEntryMode: termproto.EntryContactless, CardAuthCode: "123456"}
		bad := res
		tc.mod(&bad)
		rt.send(bad)
		e := rt.read()
		require.Equal(t, termproto.TypeError, e.Type, tc.name)
		require.Equal(t, termproto.ErrorProtocol, e.Code)
		require.Contains(t, e.Message, "could be a full card number")
		require.NotContains(t, e.Message, "1111111", "the error quotes no digits")
		_, _, err := rt.ws.Read(rt.ctx)
		require.Equal(t, websocket.StatusCode(termproto.CloseProtocol), websocket.CloseStatus(err), "%v", err)
		g.waitOnline("TRCPT3", false)

		require.Equal(t, before, g.count(), "%s: nothing written", tc.name)
		require.Equal(t, "processing", queryOrder(t, till, tradeID).State)
		var got posgate.Command
		var evs []posgate.CommandEvent
		require.NoError(t, g.G.Store.Read(context.Background(), func(tx posgate.Tx) error {
			var err error
			if got, err = tx.Command(cmd.ID); err != nil {
				return err
			}
			evs, err = tx.Events(cmd.ID)
			return err
		}))
		require.Equal(t, posgate.CommandInFlight, got.State, tc.name)
		require.True(t, got.Receipt.IsZero())
		for _, ev := range evs {
			require.False(t, strings.HasPrefix(string(ev.Stage), "result:"), "%s: result event %+v", tc.name, ev)
		}

		// The terminal reconnects; the cloud re-sends the command, and the
		// clean result is applied.
		rt = g.rawTerminal(t, "TRCPT3", secret)
		require.Equal(t, cmd.ID, rt.read().ID)
		rt.send(res)
		require.Equal(t, termproto.TypeAck, rt.read().Type)
		info := waitState(t, till, tradeID, "paid")
		require.Equal(t, "411111******1111", info.CardMaskedPAN)
		require.NoError(t, rt.ws.Close(websocket.StatusNormalClosure, ""))
		g.waitOnline("TRCPT3", false)
	}
}
