package faults

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// snapshot is what the database says after a trial.
type snapshot struct {
	orders      map[string]orderRow // by trade_id
	commands    []commandRow
	reversals   []reversalRow
	refunds     []refundRow
	captures    int // captures still processing
	undelivered int
}

type orderRow struct{ state, transactionID string }

type commandRow struct{ id, kind, tradeID, state, outcome string }

type reversalRow struct{ tradeID, commandID, state string }

type refundRow struct {
	id, tradeID, state string
	amount             int64
}

// openDB opens the gateway's database read-only beside it: SQLite's WAL
// lets a reader in another process see every commit.
func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	driver, source := "sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(5000)"
	if strings.HasPrefix(dsn, "postgres") {
		// pool_max_conns is pgxpool's, which database/sql does not use.
		u, err := url.Parse(dsn)
		mustf(t, err, "parse the DSN")
		q := u.Query()
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
		driver, source = "pgx", u.String()
	}
	db, err := sql.Open(driver, source)
	mustf(t, err, "open %s", driver)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func readSnapshot(db *sql.DB) (snapshot, error) {
	s := snapshot{orders: map[string]orderRow{}}
	scan := func(query string, row func(*sql.Rows) error) error {
		rows, err := db.Query(query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err := scan(`SELECT trade_id, state, transaction_id FROM orders`, func(r *sql.Rows) error {
		var id string
		var o orderRow
		err := r.Scan(&id, &o.state, &o.transactionID)
		s.orders[id] = o
		return err
	})
	if err == nil {
		err = scan(`SELECT id, kind, trade_id, state, outcome FROM commands`, func(r *sql.Rows) error {
			var c commandRow
			err := r.Scan(&c.id, &c.kind, &c.tradeID, &c.state, &c.outcome)
			s.commands = append(s.commands, c)
			return err
		})
	}
	if err == nil {
		err = scan(`SELECT trade_id, command_id, state FROM reversals`, func(r *sql.Rows) error {
			var v reversalRow
			err := r.Scan(&v.tradeID, &v.commandID, &v.state)
			s.reversals = append(s.reversals, v)
			return err
		})
	}
	if err == nil {
		err = scan(`SELECT refund_id, trade_id, amount, state FROM refunds`, func(r *sql.Rows) error {
			var f refundRow
			err := r.Scan(&f.id, &f.tradeID, &f.amount, &f.state)
			s.refunds = append(s.refunds, f)
			return err
		})
	}
	if err == nil {
		err = db.QueryRow(`SELECT count(*) FROM captures WHERE state = 'processing'`).Scan(&s.captures)
	}
	if err == nil {
		err = db.QueryRow(`SELECT count(*) FROM notifications WHERE delivered_at IS NULL`).Scan(&s.undelivered)
	}
	return s, err
}

// settled reports whether no order, command, reversal, refund or capture
// is left in flight.
func (s snapshot) settled() bool {
	if s.captures > 0 {
		return false
	}
	for _, o := range s.orders {
		if o.state == "processing" || o.state == "pending" {
			return false
		}
	}
	for _, c := range s.commands {
		if c.state == "in_flight" {
			return false
		}
	}
	for _, r := range s.reversals {
		if r.state == "in_flight" {
			return false
		}
	}
	for _, r := range s.refunds {
		if r.state == "refund processing" || r.state == "refund pending" {
			return false
		}
	}
	return true
}

// truth is what the terminal did, from its journal and from the screens
// every one of its processes printed.
type truth struct {
	// approvedSales and approvedReversals are the command ids the acquirer
	// approved, by trade.
	approvedSales, approvedReversals map[string][]string
	transactionID                    map[string]string // sale approval's acquirer reference, by trade
	// executions counts the trips to the acquirer per command id: the
	// authorising (or reversal_processing) screens it was shown with.
	executions map[string]int
	unacked    int
}

var screenLine = regexp.MustCompile(`^screen=(\S+) tid=\S+ cmd=(\S+) trade_id=(\S+)`)

func readTruth(t testing.TB, journal string, outputs []string) truth {
	t.Helper()
	tr := truth{approvedSales: map[string][]string{}, approvedReversals: map[string][]string{}, transactionID: map[string]string{}, executions: map[string]int{}}
	type entry struct {
		ID            string `json:"id"`
		Kind          string `json:"kind"`
		TradeID       string `json:"trade_id"`
		Phase         string `json:"phase"`
		Outcome       string `json:"outcome"`
		TransactionID string `json:"transaction_id"`
		Acked         bool   `json:"acked"`
	}
	last := map[string]entry{}
	var order []string
	f, err := os.Open(journal)
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e entry
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue // a line cut by a kill; the terminal drops it too
			}
			if _, ok := last[e.ID]; !ok {
				order = append(order, e.ID)
			}
			last[e.ID] = e
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	approved := map[string]bool{}
	for _, id := range order {
		e := last[id]
		if e.Outcome != "" && !e.Acked {
			tr.unacked++
		}
		if e.Outcome == "approved" {
			approved[id] = true
			tr.record(e.Kind, e.TradeID, id, e.TransactionID)
		}
	}
	for _, out := range outputs {
		for _, line := range strings.Split(out, "\n") {
			m := screenLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			switch m[1] {
			case "authorising", "reversal_processing":
				tr.executions[m[2]]++
			case "approved":
				if !approved[m[2]] {
					approved[m[2]] = true
					tr.record("sale", m[3], m[2], "")
				}
			case "reversal_approved":
				if !approved[m[2]] {
					approved[m[2]] = true
					tr.record("reversal", m[3], m[2], "")
				}
			}
		}
	}
	return tr
}

func (tr *truth) record(kind, tradeID, cmdID, transactionID string) {
	if kind == "reversal" {
		tr.approvedReversals[tradeID] = append(tr.approvedReversals[tradeID], cmdID)
		return
	}
	tr.approvedSales[tradeID] = append(tr.approvedSales[tradeID], cmdID)
	if transactionID != "" {
		tr.transactionID[tradeID] = transactionID
	}
}

// verdict counts one trial's faults by kind; the lists say why.
type verdict struct {
	lost, doubled, stuck, wrong, unnotified []string
}

func (v verdict) clean() bool {
	return len(v.lost)+len(v.doubled)+len(v.stuck)+len(v.wrong)+len(v.unnotified) == 0
}

func (v verdict) String() string {
	var b strings.Builder
	for _, k := range []struct {
		name string
		list []string
	}{{"lost", v.lost}, {"doubled", v.doubled}, {"stuck", v.stuck}, {"wrong-state", v.wrong}, {"unnotified", v.unnotified}} {
		for _, why := range k.list {
			fmt.Fprintf(&b, "%s: %s\n", k.name, why)
		}
	}
	return b.String()
}

// expectation is what a cell must end with, besides the rules every
// outcome obeys.
type expectation struct {
	orderStates  []string // the order's final state is one of these (nil: any consistent one)
	refundStates []string // every refund ends in one of these (nil: any final one)
}

// classify compares the terminal's truth with the database and with the
// notifications the merchant accepted.
func classify(tr truth, s snapshot, rcv *receiver, want expectation) verdict {
	var v verdict
	for cmd, n := range tr.executions {
		if n > 1 {
			v.doubled = append(v.doubled, fmt.Sprintf("command %s went to the acquirer %d times", cmd, n))
		}
	}
	dbApprovedReversals := map[string]int{}
	for _, r := range s.reversals {
		if r.state == "approved" {
			dbApprovedReversals[r.tradeID]++
		}
	}
	for tradeID, o := range s.orders {
		sales, revs := tr.approvedSales[tradeID], tr.approvedReversals[tradeID]
		if len(sales) > 1 {
			v.doubled = append(v.doubled, fmt.Sprintf("order %s authorised %d times (commands %v)", tradeID, len(sales), sales))
		}
		if len(revs) > 1 || dbApprovedReversals[tradeID] > 1 {
			v.doubled = append(v.doubled, fmt.Sprintf("order %s reversed %d times on the terminal, %d recorded", tradeID, len(revs), dbApprovedReversals[tradeID]))
		}
		charged, reversed := len(sales) > 0, len(revs) > 0
		switch {
		case o.state == "processing" || o.state == "pending":
			v.stuck = append(v.stuck, fmt.Sprintf("order %s still %s after every deadline", tradeID, o.state))
		case charged && !reversed && o.state != "paid" && o.state != "authorized":
			v.lost = append(v.lost, fmt.Sprintf("order %s approved on the terminal (%s) but %s, and no reversal", tradeID, tr.transactionID[tradeID], o.state))
		case charged && !reversed && tr.transactionID[tradeID] != "" && o.transactionID != tr.transactionID[tradeID]:
			v.wrong = append(v.wrong, fmt.Sprintf("order %s paid with transaction_id %q, the terminal's is %q", tradeID, o.transactionID, tr.transactionID[tradeID]))
		case reversed && (o.state == "paid" || o.state == "authorized"):
			v.wrong = append(v.wrong, fmt.Sprintf("order %s %s though the terminal reversed it", tradeID, o.state))
		case reversed && dbApprovedReversals[tradeID] == 0:
			v.wrong = append(v.wrong, fmt.Sprintf("order %s reversed on the terminal, no approved reversal recorded", tradeID))
		case !reversed && dbApprovedReversals[tradeID] > 0:
			v.wrong = append(v.wrong, fmt.Sprintf("order %s has an approved reversal the terminal never made", tradeID))
		case !charged && (o.state == "paid" || o.state == "authorized"):
			v.wrong = append(v.wrong, fmt.Sprintf("order %s %s without an approval on the terminal", tradeID, o.state))
		case want.orderStates != nil && !slices.Contains(want.orderStates, o.state):
			v.wrong = append(v.wrong, fmt.Sprintf("order %s ended %s, want one of %v", tradeID, o.state, want.orderStates))
		}
		if got := rcv.states(tradeID); !slices.Contains(got, o.state) {
			v.unnotified = append(v.unnotified, fmt.Sprintf("order %s is %s; the merchant accepted %v", tradeID, o.state, got))
		}
	}
	for _, r := range s.refunds {
		switch {
		case r.state == "refund processing" || r.state == "refund pending":
			v.stuck = append(v.stuck, fmt.Sprintf("refund %s still %s after every deadline", r.id, r.state))
		case want.refundStates != nil && !slices.Contains(want.refundStates, r.state):
			v.wrong = append(v.wrong, fmt.Sprintf("refund %s ended %s, want one of %v", r.id, r.state, want.refundStates))
		}
		if got := rcv.states(r.id); !slices.Contains(got, r.state) {
			v.unnotified = append(v.unnotified, fmt.Sprintf("refund %s is %s; the merchant accepted %v", r.id, r.state, got))
		}
	}
	return v
}
