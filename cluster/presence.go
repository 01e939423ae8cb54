package cluster

import (
	"context"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termlink"
)

// Watch wraps the hub's handler: connects and disconnects write the
// presence rows, a connection that takes a TID over from another node
// makes that node close its own, and applied results and shown commands
// ring the doorbells that wake API calls waiting on other nodes.
func (n *Node) Watch(h termlink.Handler) termlink.Handler { return watched{h, n} }

type watched struct {
	termlink.Handler
	n *Node
}

// Connected records that the terminal is here before the service re-sends
// its command in flight, so every node routes to this connection from
// then on.
func (w watched) Connected(ctx context.Context, tid string) {
	w.n.connected(ctx, tid)
	w.Handler.Connected(ctx, tid)
}

func (w watched) Disconnected(tid string) {
	w.n.disconnected(tid)
	w.Handler.Disconnected(tid)
}

func (w watched) Result(ctx context.Context, tid string, r posgate.Result) error {
	if err := w.Handler.Result(ctx, tid, r); err != nil {
		return err
	}
	// Also for a repeat: the doorbell only makes a waiter re-read.
	w.n.publish(subjectDone(r.CommandID), nil)
	return nil
}

func (w watched) Progress(ctx context.Context, tid string, p posgate.Progress) error {
	err := w.Handler.Progress(ctx, tid, p)
	if p.Stage.Shown() && validToken(p.CommandID) {
		w.n.publish(subjectShown(p.CommandID), []byte(tid))
	}
	return err
}

// validToken: a terminal's command id (normally ours, a UUID) may only
// ring a doorbell if it is one plain subject token.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// claim writes tid's presence row for this node and returns the node that
// held it before ("" if none).
func (n *Node) claim(ctx context.Context, tid string, at time.Time) (string, error) {
	var prev *string
	err := n.pool.QueryRow(ctx, `WITH old AS (SELECT node_id FROM terminal_presence WHERE tid = $1)
		INSERT INTO terminal_presence (tid, node_id, connected_at) VALUES ($1, $2, $3)
		ON CONFLICT (tid) DO UPDATE SET node_id = EXCLUDED.node_id, connected_at = EXCLUDED.connected_at
		RETURNING (SELECT node_id FROM old)`, tid, n.cfg.NodeID, at).Scan(&prev)
	if err != nil || prev == nil {
		return "", err
	}
	return *prev, nil
}

func (n *Node) connected(ctx context.Context, tid string) {
	if n.halted.Load() {
		return
	}
	n.mu.Lock()
	n.local[tid] = false
	n.mu.Unlock()
	prev, err := n.claim(ctx, tid, time.Now())
	if err != nil {
		// Other nodes see the terminal offline until the sweep writes it.
		n.log.Error("write terminal presence", "tid", tid, "err", err)
		return
	}
	n.mu.Lock()
	if _, ok := n.local[tid]; ok {
		n.local[tid] = true
	}
	n.mu.Unlock()
	if prev != "" && prev != n.cfg.NodeID {
		n.publish(subjectReplaced(prev), []byte(tid))
	}
}

func (n *Node) disconnected(tid string) {
	n.mu.Lock()
	delete(n.local, tid)
	n.mu.Unlock()
	if n.halted.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Only this node's row: a newer connection elsewhere owns it otherwise.
	if _, err := n.pool.Exec(ctx, `DELETE FROM terminal_presence WHERE tid = $1 AND node_id = $2`, tid, n.cfg.NodeID); err != nil {
		// The sweep removes it; until then the heartbeat keeps it "online".
		n.log.Error("delete terminal presence", "tid", tid, "err", err)
	}
}

// sweep repairs what lost doorbells and failed writes left behind:
//   - presence rows not written at connect are written now;
//   - a connection here whose TID's row names another node was replaced
//     there (the "replaced" doorbell was lost): it is closed;
//   - this node's rows for TIDs no longer connected here are deleted;
//   - commands in flight for terminals connected here that this node has
//     not sent (the "command" doorbell was lost) are sent.
func (n *Node) sweep(ctx context.Context) error {
	start := time.Now()
	n.mu.Lock()
	written, unwritten := []string{}, []string{} // never NULL in ANY/ALL
	for tid, ok := range n.local {
		if ok {
			written = append(written, tid)
		} else {
			unwritten = append(unwritten, tid)
		}
	}
	n.mu.Unlock()

	for _, tid := range unwritten {
		if !n.hub.Online(tid) {
			continue
		}
		prev, err := n.claim(ctx, tid, start)
		if err != nil {
			return err
		}
		n.mu.Lock()
		if _, ok := n.local[tid]; ok {
			n.local[tid] = true
		}
		n.mu.Unlock()
		written = append(written, tid)
		if prev != "" && prev != n.cfg.NodeID {
			n.publish(subjectReplaced(prev), []byte(tid))
		}
	}

	rows, err := n.pool.Query(ctx, `SELECT tid, node_id FROM terminal_presence WHERE tid = ANY($1) AND node_id <> $2`, written, n.cfg.NodeID)
	if err != nil {
		return err
	}
	replaced := map[string]string{}
	for rows.Next() {
		var tid, node string
		if err := rows.Scan(&tid, &node); err != nil {
			rows.Close()
			return err
		}
		replaced[tid] = node
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for tid, node := range replaced {
		n.closeReplaced(tid, node)
	}

	// Rows written before start for TIDs not connected here at start; a
	// connection made since has a newer connected_at and is kept.
	if _, err := n.pool.Exec(ctx, `DELETE FROM terminal_presence WHERE node_id = $1 AND tid <> ALL($2) AND connected_at < $3`,
		n.cfg.NodeID, append(append([]string{}, written...), unwritten...), start); err != nil {
		return err
	}

	rows, err = n.pool.Query(ctx, `SELECT c.id, c.tid FROM commands c JOIN terminal_presence p ON p.tid = c.tid
		WHERE p.node_id = $1 AND c.state = 'in_flight'`, n.cfg.NodeID)
	if err != nil {
		return err
	}
	type pending struct{ id, tid string }
	var inFlight []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.tid); err != nil {
			rows.Close()
			return err
		}
		inFlight = append(inFlight, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	keep := make(map[string]struct{}, len(inFlight))
	var resend []pending
	n.mu.Lock()
	for _, p := range inFlight {
		keep[p.id] = struct{}{}
		if _, ok := n.sent[p.id]; !ok {
			resend = append(resend, p)
		}
	}
	for id, at := range n.sent {
		if _, ok := keep[id]; !ok && at.Before(start) {
			delete(n.sent, id) // finished: forget it
		}
	}
	n.mu.Unlock()
	for _, p := range resend {
		if !n.hub.Online(p.tid) {
			continue
		}
		n.log.Info("sending a command in flight whose doorbell did not arrive", "tid", p.tid, "command_id", p.id)
		if err := n.svc.Resend(ctx, p.id); err != nil {
			n.log.Warn("send command in flight", "tid", p.tid, "command_id", p.id, "err", err)
		}
	}
	return nil
}
