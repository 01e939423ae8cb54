package clustertest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/sdk"
	"github.com/posgate/posgate/simterm"
)

// TestKillHolderDuringReversal kills -9 the node holding the terminal while
// a reversal called on another node is in flight, at four moments of the
// command. Each time the terminal reconnects to a surviving node (the next
// in its server list), the reversal is applied once, the merchant's call
// answers with the result or, when the result comes after the wait, -4203,
// and the notification follows.
func TestKillHolderDuringReversal(t *testing.T) {
	// A stale bound of 3 s leaves time for the first moment's call to be
	// accepted while the holder is frozen.
	c := newCluster(t, 3, func(o *options) { o.staleAfter = 3 * time.Second })
	c.provision("T0")
	tm := c.connect("T0", 0, cardDelay(300*time.Millisecond))

	moments := []struct {
		name string
		// kill returns once the moment is reached and the holder killed.
		kill func(holder *node, tradeID string)
	}{
		{"persisted, not sent", func(holder *node, tradeID string) {
			// The holder is frozen before the call: the command is
			// written and rung for, but nobody sends it.
			if !poll(20*time.Second, func() bool { return c.reversalCommand(tradeID) != "" }) {
				t.Fatal("no reversal command in the database")
			}
			holder.kill()
		}},
		{"on screen, before the result", func(holder *node, tradeID string) {
			if !poll(20*time.Second, func() bool { return tm.Current().Name == simterm.ScreenReversalRequested }) {
				t.Fatalf("the terminal shows %s", tm.Current().Name)
			}
			holder.kill()
		}},
		{"executed, result not reported", func(holder *node, tradeID string) {
			if !poll(20*time.Second, func() bool { return tm.Current().Name == simterm.ScreenReversalApproved }) {
				t.Fatalf("the terminal shows %s", tm.Current().Name)
			}
			holder.kill()
		}},
		{"terminal away past the caller's wait", func(holder *node, tradeID string) {
			// Executed, then silent (no reconnect) until the caller has
			// answered -4203; the result follows when it comes back.
			if !poll(20*time.Second, func() bool { return tm.Current().Name == simterm.ScreenReversalApproved }) {
				t.Fatalf("the terminal shows %s", tm.Current().Name)
			}
			tm.SetFaults(simterm.Faults{Silent: true, ResultDelay: 1500 * time.Millisecond})
			holder.kill()
		}},
		{"result applied, before the answer", func(holder *node, tradeID string) {
			if !poll(20*time.Second, func() bool { return c.reversalState(tradeID) == "done" }) {
				t.Fatal("the reversal command never finished")
			}
			holder.kill()
		}},
	}
	for _, m := range moments {
		t.Run(m.name, func(t *testing.T) {
			holderID := c.holder("T0")
			h := c.nodeIndex(holderID)
			if h < 0 {
				t.Fatalf("T0 held by %q", holderID)
			}
			caller := (h + 1) % 3
			sale := c.paidSale(caller, "T0")
			if m.name == "persisted, not sent" {
				c.nodes[h].p.Signal(syscall.SIGSTOP)
			}
			switch m.name {
			case "executed, result not reported":
				tm.SetFaults(simterm.Faults{ResultDelay: 1500 * time.Millisecond})
				defer tm.SetFaults(simterm.Faults{})
			case "terminal away past the caller's wait":
				// The result held long enough to turn silent first.
				tm.SetFaults(simterm.Faults{ResultDelay: 1500 * time.Millisecond})
				defer tm.SetFaults(simterm.Faults{})
			}
			type answer struct {
				r   *sdk.Response
				err error
			}
			answered := make(chan answer, 1)
			go func() {
				r, err := c.till(caller, "T0").Call(context.Background(), "v3.POSReversal",
					map[string]string{"tid": "T0", "trade_id": sale, "request_id": sdk.NewRequestID()})
				answered <- answer{r, err}
			}()
			m.kill(c.nodes[h], sale)
			killedAt := time.Now()
			// The moment was the one named: the reversal had not reached the
			// acquirer before the first two, had after the others.
			wantBefore := 1
			if m.name == "persisted, not sent" || m.name == "on screen, before the result" {
				wantBefore = 0
			}
			if got := c.acq.ops(sale, "reversal"); got != wantBefore {
				t.Errorf("the terminal had reversed %d times at the kill, want %d for this moment", got, wantBefore)
			}

			var a answer
			select {
			case a = <-answered:
			case <-time.After(30 * time.Second):
				t.Fatal("the merchant's reversal never answered")
			}
			switch {
			case a.err != nil:
				t.Fatalf("reversal on %s: %v", c.nodes[caller].id, a.err)
			case m.name == "terminal away past the caller's wait" && a.r.Code != protocol.CodeTerminalTimeout:
				t.Fatalf("reversal answered %s, want -4203: the terminal was away", describe(a.r, nil))
			case a.r.Code == protocol.CodeOK && orderOf(a.r).State == "cancelled":
			case a.r.Code == protocol.CodeTerminalTimeout:
				t.Logf("answered -4203 (%s)", a.r.Message)
			default:
				t.Fatalf("reversal answered %s", describe(a.r, nil))
			}
			if m.name == "terminal away past the caller's wait" {
				if st := c.state(caller, "T0", sale); st != "paid" {
					t.Errorf("order %s while its terminal is away, want paid until the result comes", st)
				}
				tm.SetFaults(simterm.Faults{}) // back: it reconnects and reports
			}
			c.waitState(caller, "T0", sale, "cancelled", 30*time.Second)
			var back string
			if !poll(15*time.Second, func() bool { back = c.holder("T0"); return back != holderID && back != "" }) {
				t.Errorf("T0 held by %q after its node died", back)
			}
			t.Logf("holder %s killed; T0 online on %s; answer %s; settled %.2fs after the kill",
				holderID, back, a.r.Code, time.Since(killedAt).Seconds())
			if ops := c.acq.ops(sale, "reversal"); ops != 1 {
				t.Errorf("the terminal reversed %d times", ops)
			}
			if n := c.count(`SELECT count(*) FROM commands WHERE trade_id = $1 AND kind = 'reversal'`, sale); n != 1 {
				t.Errorf("%d reversal commands", n)
			}
			// A delivery the killed node had claimed waits for River to rescue it
			// (about a minute: notify.AttemptTimeout x 6).
			if !poll(3*time.Minute, func() bool { return c.rcv.got(sale, "cancelled") }) {
				t.Errorf("no notification 'cancelled' for %s; got %v", sale, c.rcv.states(sale))
			}
			t.Logf("notified %.1fs after the kill", time.Since(killedAt).Seconds())
			c.nodes[h].start()
		})
	}
	if d := c.acq.doubled(); len(d) > 0 {
		t.Errorf("commands performed twice: %v", d)
	}
}

func (c *cluster) nodeIndex(id string) int {
	for i, n := range c.nodes {
		if n.id == id {
			return i
		}
	}
	return -1
}

// reversalCommand is the id of the order's reversal command, or "".
func (c *cluster) reversalCommand(tradeID string) string {
	var id string
	c.db.QueryRow(context.Background(), `SELECT id FROM commands WHERE trade_id = $1 AND kind = 'reversal'`, tradeID).Scan(&id)
	return id
}

func (c *cluster) reversalState(tradeID string) string {
	var st string
	c.db.QueryRow(context.Background(), `SELECT state FROM commands WHERE trade_id = $1 AND kind = 'reversal'`, tradeID).Scan(&st)
	return st
}
