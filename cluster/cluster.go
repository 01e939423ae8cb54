// Package cluster lets several gateways share one PostgreSQL database and
// reach every terminal, whichever gateway (node) holds its connection.
//
// PostgreSQL stays the only source of truth: which node holds a terminal
// (terminal_presence) and which nodes are alive (nodes, a heartbeat) are
// rows, and commands are rows written before anything is sent. NATS is
// only a doorbell: it tells the holding node that a command waits for its
// terminal, tells the calling node that a result was applied or that the
// terminal shows a command, and tells a node that its connection was
// replaced elsewhere. Every doorbell names ids only; the receiver reads
// the database and acts on what it finds, so a lost, late or repeated
// message changes nothing but timing: the holding node's sweep re-sends
// its terminals' commands in flight, and waiting API calls re-read their
// command (payment.Config.WaitPoll). docs/cluster.md has the design.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/termlink"
)

// Defaults of Config.
const (
	DefaultHeartbeat  = 3 * time.Second
	DefaultStaleAfter = 10 * time.Second
	DefaultSweep      = 2 * time.Second
	// DefaultWaitPoll is how often a waiting API call re-reads its command
	// in a cluster (payment.Config.WaitPoll).
	DefaultWaitPoll = time.Second
)

// Config configures a node. NATS and a PostgreSQL pool are required.
type Config struct {
	// NATS is the NATS server URL (several, comma-separated, are allowed).
	NATS string
	// NodeID names this node in presence rows and NATS subjects: letters,
	// digits, '-' and '_'. Default: "node-" and 8 random hex digits, new
	// at every start.
	NodeID string
	// Heartbeat is how often the node refreshes its row in nodes (3 s).
	Heartbeat time.Duration
	// StaleAfter is how old a node's heartbeat may be before its terminals
	// count as offline everywhere (10 s). Keep it several heartbeats.
	StaleAfter time.Duration
	// Sweep is how often the node repairs what lost doorbells or failed
	// writes left behind: it re-sends its terminals' commands in flight that
	// it has not sent, closes connections replaced on another node, and
	// fixes its presence rows (2 s).
	Sweep time.Duration
	// WaitPoll is how often an API call waiting for its terminal re-reads
	// the command, for the gateway's payment.Config.WaitPoll (1 s): the
	// bound on the delay a lost result doorbell costs.
	WaitPoll time.Duration
	Logger   *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.NATS == "" {
		return c, errors.New("cluster: a NATS URL is required")
	}
	if c.NodeID == "" {
		b := make([]byte, 4)
		rand.Read(b)
		c.NodeID = "node-" + hex.EncodeToString(b)
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		return c, fmt.Errorf("cluster: node id %q: use 1 to 64 letters, digits, '-' or '_'", c.NodeID)
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.StaleAfter <= c.Heartbeat {
		return c, fmt.Errorf("cluster: stale-after %s must be longer than the heartbeat %s", c.StaleAfter, c.Heartbeat)
	}
	if c.Sweep <= 0 {
		c.Sweep = DefaultSweep
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Service is what a node needs of the payment service (payment.Service
// implements it): sending a command it holds the terminal of, and the
// doorbells that wake API calls waiting on this node.
type Service interface {
	Resend(ctx context.Context, commandID string) error
	CommandFinished(ctx context.Context, commandID string) error
	CommandShown(commandID, tid string)
}

// Node is one gateway of a cluster. It implements payment.Link: a
// terminal connected here is reached through the local hub, one connected
// to another live node through a doorbell to that node.
type Node struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	hub  *termlink.Hub
	nc   *nats.Conn

	svc  Service
	subs []*nats.Subscription

	mu    sync.Mutex
	local map[string]bool      // TIDs connected here -> presence row written
	sent  map[string]time.Time // command ids sent to a terminal connected here -> when

	halted atomic.Bool
	ctx    context.Context // for doorbell handlers; ends at Close
	cancel context.CancelFunc
}

// Subjects. Node ids and command ids are single subject tokens.
func subjectCommand(node string) string  { return "posgate.node." + node + ".command" }
func subjectAbort(node string) string    { return "posgate.node." + node + ".abort" }
func subjectReplaced(node string) string { return "posgate.node." + node + ".replaced" }
func subjectDone(commandID string) string {
	return "posgate.command." + commandID + ".done"
}
func subjectShown(commandID string) string {
	return "posgate.command." + commandID + ".shown"
}

// Open connects to NATS and registers the node's heartbeat. The pool is
// the PostgreSQL store's (its migrations created the tables); hub holds
// this node's connections. Attach the service, then Run.
func Open(ctx context.Context, cfg Config, pool *pgxpool.Pool, hub *termlink.Hub) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), pool: pool, hub: hub,
		local: map[string]bool{}, sent: map[string]time.Time{}}
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.nc, err = nats.Connect(cfg.NATS,
		nats.Name("posgate "+cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		// A doorbell buffered while NATS is away would ring late for
		// nothing: the sweeps have done its work by then.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				n.log.Warn("NATS disconnected: routing falls back to the database sweeps", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { n.log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	if err := n.heartbeat(ctx); err != nil {
		n.nc.Close()
		n.cancel()
		return nil, fmt.Errorf("cluster: register node %s: %w", cfg.NodeID, err)
	}
	return n, nil
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Attach subscribes the node to its doorbells, delivering them to svc.
//
// It is a step after Open, not a parameter of it, because the two
// depend on each other: the payment service is built with the node as
// its Link (every command it sends goes through the node), and the
// node's doorbells call the service (Resend, CommandFinished,
// CommandShown). One of them must exist first; the node does, and it
// subscribes only here, so no doorbell can arrive before svc is set.
// Attach once, before Run.
func (n *Node) Attach(svc Service) error {
	n.svc = svc
	for subject, h := range map[string]nats.MsgHandler{
		subjectCommand(n.cfg.NodeID):  n.onCommand,
		subjectAbort(n.cfg.NodeID):    n.onAbort,
		subjectReplaced(n.cfg.NodeID): n.onReplaced,
		subjectDone("*"):              n.onDone,
		subjectShown("*"):             n.onShown,
	} {
		sub, err := n.nc.Subscribe(subject, h)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subject, err)
		}
		n.subs = append(n.subs, sub)
	}
	return nil
}

// Run refreshes the heartbeat and runs the sweep until ctx ends.
func (n *Node) Run(ctx context.Context) {
	beat := time.NewTicker(n.cfg.Heartbeat)
	defer beat.Stop()
	sweep := time.NewTicker(n.cfg.Sweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if n.halted.Load() {
				continue
			}
			if err := n.heartbeat(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("node heartbeat", "err", err)
			}
		case <-sweep.C:
			if n.halted.Load() {
				continue
			}
			if err := n.sweep(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("cluster sweep", "err", err)
			}
		}
	}
}

// Close leaves the cluster: the node's row goes (its terminals, already
// disconnected by the hub's shutdown, are offline everywhere at once) and
// the NATS connection closes. Call it after the hub's Shutdown and after
// Run returned.
func (n *Node) Close() error {
	n.cancel()
	var err error
	if !n.halted.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = n.pool.Exec(ctx, `DELETE FROM terminal_presence WHERE node_id = $1`, n.cfg.NodeID)
		if err == nil {
			_, err = n.pool.Exec(ctx, `DELETE FROM nodes WHERE node_id = $1`, n.cfg.NodeID)
		}
	}
	n.nc.Close()
	return err
}

// Halt makes the node behave, for the rest of the cluster, as if its
// process had been killed: no more heartbeats, doorbells or database
// writes, its presence rows left behind to go stale. For tests of node
// death; the process still closes the node as usual.
func (n *Node) Halt() {
	n.halted.Store(true)
	n.nc.Close()
}

// heartbeat writes the node's liveness, with the database's clock so the
// nodes' clocks need not agree.
func (n *Node) heartbeat(ctx context.Context) error {
	_, err := n.pool.Exec(ctx, `INSERT INTO nodes (node_id, heartbeat_at) VALUES ($1, now())
		ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()`, n.cfg.NodeID)
	return err
}

// publish rings a doorbell; a failure only delays (the sweeps and the
// waiters' polls do the work), so it is logged, not returned.
func (n *Node) publish(subject string, data []byte) {
	if n.halted.Load() {
		return
	}
	if err := n.nc.Publish(subject, data); err != nil {
		n.log.Debug("doorbell not sent: the database sweeps will do its work", "subject", subject, "err", err)
	}
}

// owner returns the node holding tid's connection if that node is alive,
// else "".
func (n *Node) owner(ctx context.Context, tid string) (string, error) {
	var node string
	err := n.pool.QueryRow(ctx, `SELECT p.node_id FROM terminal_presence p JOIN nodes n ON n.node_id = p.node_id
		WHERE p.tid = $1 AND n.heartbeat_at > now() - make_interval(secs => $2)`,
		tid, n.cfg.StaleAfter.Seconds()).Scan(&node)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	return node, nil
}

// Holders returns, for each of tids that is online somewhere in the
// cluster, the node holding its connection: this node for a terminal
// connected here, else the node its presence row names if that node's
// heartbeat is fresh. One read for all of tids.
func (n *Node) Holders(ctx context.Context, tids []string) (map[string]string, error) {
	out := make(map[string]string, len(tids))
	elsewhere := []string{} // never NULL in ANY
	for _, tid := range tids {
		if n.hub.Online(tid) {
			out[tid] = n.cfg.NodeID
		} else {
			elsewhere = append(elsewhere, tid)
		}
	}
	if len(elsewhere) == 0 {
		return out, nil
	}
	// A row naming this node for a TID not connected here is stale.
	rows, err := n.pool.Query(ctx, `SELECT p.tid, p.node_id FROM terminal_presence p JOIN nodes n ON n.node_id = p.node_id
		WHERE p.tid = ANY($1) AND p.node_id <> $2 AND n.heartbeat_at > now() - make_interval(secs => $3)`,
		elsewhere, n.cfg.NodeID, n.cfg.StaleAfter.Seconds())
	if err != nil {
		return nil, fmt.Errorf("cluster: read terminal presence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid, node string
		if err := rows.Scan(&tid, &node); err != nil {
			return nil, err
		}
		out[tid] = node
	}
	return out, rows.Err()
}

// Online implements payment.Link: tid is connected here, or to a node
// whose heartbeat is fresh.
func (n *Node) Online(tid string) bool {
	if n.hub.Online(tid) {
		return true
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	node, err := n.owner(ctx, tid)
	if err != nil {
		n.log.Error("read terminal presence", "tid", tid, "err", err)
		return false
	}
	return node != "" && node != n.cfg.NodeID
}

type commandBell struct {
	CommandID string `json:"command_id"`
	TID       string `json:"tid"`
}

type abortBell struct {
	CommandID string              `json:"command_id"`
	TID       string              `json:"tid"`
	Reason    posgate.AbortReason `json:"reason"`
}

// route finds where tid is: "" with nil when it is connected here, the
// live node holding it otherwise, or an error wrapping
// posgate.ErrTerminalOffline.
func (n *Node) route(ctx context.Context, tid string) (string, error) {
	if n.hub.Online(tid) {
		return "", nil
	}
	node, err := n.owner(ctx, tid)
	if err != nil {
		return "", err
	}
	if node == "" || node == n.cfg.NodeID {
		return "", fmt.Errorf("cluster: %s: %w", tid, posgate.ErrTerminalOffline)
	}
	return node, nil
}

// SendCommand implements payment.Link. For a terminal held by another
// node it rings that node with the command's id; the command is in the
// database already, and that node reads and sends it (or its sweep does,
// if the doorbell is lost).
func (n *Node) SendCommand(ctx context.Context, d posgate.Dispatch) error {
	tid := d.Command.TID
	node, err := n.route(ctx, tid)
	if err != nil {
		return err
	}
	if node == "" {
		if err := n.hub.SendCommand(ctx, d); err != nil {
			return err
		}
		n.mu.Lock()
		n.sent[d.Command.ID] = time.Now()
		n.mu.Unlock()
		return nil
	}
	b, _ := json.Marshal(commandBell{CommandID: d.Command.ID, TID: tid})
	n.publish(subjectCommand(node), b)
	return nil
}

// SendAbort implements payment.Link.
func (n *Node) SendAbort(ctx context.Context, tid, commandID string, reason posgate.AbortReason) error {
	node, err := n.route(ctx, tid)
	if err != nil {
		return err
	}
	if node == "" {
		return n.hub.SendAbort(ctx, tid, commandID, reason)
	}
	b, _ := json.Marshal(abortBell{CommandID: commandID, TID: tid, Reason: reason})
	n.publish(subjectAbort(node), b)
	return nil
}

// onCommand: another node created a command for a terminal connected
// here. The command is read from the database and sent if still in
// flight.
func (n *Node) onCommand(m *nats.Msg) {
	var b commandBell
	if err := json.Unmarshal(m.Data, &b); err != nil || n.halted.Load() {
		return
	}
	if !n.hub.Online(b.TID) {
		n.log.Debug("command doorbell for a terminal not connected here", "tid", b.TID, "command_id", b.CommandID)
		return
	}
	if err := n.svc.Resend(n.ctx, b.CommandID); err != nil {
		n.log.Warn("send routed command", "tid", b.TID, "command_id", b.CommandID, "err", err)
	}
}

func (n *Node) onAbort(m *nats.Msg) {
	var b abortBell
	if err := json.Unmarshal(m.Data, &b); err != nil || n.halted.Load() || !n.hub.Online(b.TID) {
		return
	}
	if err := n.hub.SendAbort(n.ctx, b.TID, b.CommandID, b.Reason); err != nil {
		n.log.Info("routed abort not delivered", "tid", b.TID, "command_id", b.CommandID, "err", err)
	}
}

// onReplaced: a node says tid connected there. The database decides: the
// connection here closes only if the presence row names another node.
func (n *Node) onReplaced(m *nats.Msg) {
	tid := string(m.Data)
	if n.halted.Load() || !n.hub.Online(tid) {
		return
	}
	var node string
	err := n.pool.QueryRow(n.ctx, `SELECT node_id FROM terminal_presence WHERE tid = $1`, tid).Scan(&node)
	if err != nil || node == n.cfg.NodeID {
		return
	}
	n.closeReplaced(tid, node)
}

func (n *Node) closeReplaced(tid, by string) {
	n.mu.Lock()
	delete(n.local, tid)
	n.mu.Unlock()
	if n.hub.CloseReplaced(tid) {
		n.log.Info("terminal connection closed: a newer one is on another node", "tid", tid, "holder", by)
	}
}

func (n *Node) onDone(m *nats.Msg) {
	id, ok := commandOf(m.Subject)
	if !ok || n.halted.Load() {
		return
	}
	if err := n.svc.CommandFinished(n.ctx, id); err != nil {
		n.log.Warn("re-read finished command", "command_id", id, "err", err)
	}
}

func (n *Node) onShown(m *nats.Msg) {
	if id, ok := commandOf(m.Subject); ok && !n.halted.Load() {
		n.svc.CommandShown(id, string(m.Data))
	}
}

// commandOf is the command id in posgate.command.<id>.<event>.
func commandOf(subject string) (string, bool) {
	const prefix = "posgate.command."
	if len(subject) <= len(prefix) {
		return "", false
	}
	rest := subject[len(prefix):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == '.' {
			return rest[:i], i > 0
		}
	}
	return "", false
}
