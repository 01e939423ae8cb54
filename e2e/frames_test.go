package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termproto"
)

// A terminal of another merchant reports progress on a command that is
// not its own: the frames are refused and the command's own terminal's
// history, written in the same batches, is intact.
func TestForeignProgressRefusedThroughTheServer(t *testing.T) {
	g := start(t)
	secret := g.addTerminal("Shop A", "T1", "")
	otherSecret := g.addTerminal("Shop B", "T2", "")
	g.connect("T1", secret)
	till := g.client("T1", secret)
	r := call(t, till, "v3.POS", saleData("T1", "1.07")) // no card: the command stays in flight
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	o := orderOf(t, r)
	var cmd posgate.Command
	require.NoError(t, g.G.Store.Read(context.Background(), func(tx posgate.Tx) error {
		var err error
		cmd, err = tx.CommandForTrade(o.TradeID, posgate.CommandSale)
		return err
	}))

	// T2 authenticates like any terminal, then forges progress.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := g.dialTerminal(ctx)
	send := func(f termproto.Frame) {
		b, err := termproto.Encode(f)
		require.NoError(t, err)
		require.NoError(t, ws.Write(ctx, websocket.MessageText, b))
	}
	now := g.Clock.Now().Unix()
	nonce := fmt.Sprintf("%016x", time.Now().UnixNano())
	send(termproto.Frame{Type: termproto.TypeHello, TID: "T2", Time: now, Nonce: nonce, Version: termproto.Version,
		Sign: termproto.SignHello(otherSecret, "T2", now, nonce, termproto.Version)})
	_, b, err := ws.Read(ctx)
	require.NoError(t, err)
	welcome, err := termproto.Decode(b)
	require.NoError(t, err)
	require.Equal(t, termproto.TypeWelcome, welcome.Type)
	for range 5 {
		send(termproto.Frame{Type: termproto.TypeProgress, ID: cmd.ID, Stage: termproto.StageApproved, Message: "forged"})
		send(termproto.Frame{Type: termproto.TypeProgress, ID: "no-such-command", Stage: termproto.StageOnScreen, Message: "forged"})
	}
	// A heartbeat answered means the hub read every frame before it.
	send(termproto.Frame{Type: termproto.TypeHeartbeat, Seq: 1})
	_, b, err = ws.Read(ctx)
	require.NoError(t, err)
	ack, err := termproto.Decode(b)
	require.NoError(t, err)
	require.Equal(t, termproto.TypeHeartbeatAck, ack.Type, "the forged frames did not cost T2 its connection, nor were they answered")

	// The sale ends (cancelled). Progress is stored in arrival order, so
	// once T1's "cancelled" is stored the forged frames were handled: none
	// may be there.
	r = call(t, till, "v3.POSCancel", map[string]string{"tid": "T1", "trade_id": o.TradeID, "request_id": "cancel0000000000000000000frames"})
	require.True(t, r.Status, "%s %s", r.Code, r.Message)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var evs []posgate.CommandEvent
		require.NoError(t, g.G.Store.Read(context.Background(), func(tx posgate.Tx) error {
			var err error
			evs, err = tx.Events(cmd.ID)
			return err
		}))
		var own, forged int
		for _, e := range evs {
			if e.Message == "forged" {
				forged++
			} else if e.Stage == posgate.StageCancelled {
				own++ // T1 reported it after the forged frames were queued
			}
		}
		require.Zero(t, forged, "another terminal's frames were stored")
		if own > 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "the terminal's own progress was never stored: %+v", evs)
		time.Sleep(10 * time.Millisecond)
	}
}
