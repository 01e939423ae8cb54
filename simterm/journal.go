package simterm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Phases of a command in the journal, in the order a command reaches them.
// Only the moments that matter for money are journaled: after a restart
// they decide what the terminal reports instead of running the command
// again.
const (
	phaseReceived = "received"         // arrived; the card may or may not have been read
	phaseAcquirer = "sent_to_acquirer" // the acquirer may have performed it
	phaseResult   = "result"           // Outcome holds the final result
)

// Bounds of the journal. keepAcked is how many acked results are kept, so
// that a command re-sent after its ack is answered from the journal and
// not run again; older ones are forgotten. The file is rewritten when it
// has more than compactLines lines and more than half of them are
// obsolete.
const (
	defaultKeepAcked    = 1000
	defaultCompactLines = 1024
)

// entry is one command as far as it got. The file is append-only JSON
// lines: every phase and the ack append the entry again, and the last line
// for an id wins when loading.
type entry struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	TradeID       string `json:"trade_id,omitempty"`
	Amount        string `json:"amount,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Phase         string `json:"phase,omitempty"` // empty in files written before phases: a result
	Outcome       string `json:"outcome,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Message       string `json:"message,omitempty"`
	Receipt              // an approval's card data, flattened as card_* fields
	At            int64  `json:"at"` // Unix ms of the phase
	Acked         bool   `json:"acked"`
}

func (e entry) final() bool { return e.Outcome != "" }

// journal is not safe for concurrent use; Terminal guards it with its mutex.
type journal struct {
	path         string // empty: in memory only
	log          *slog.Logger
	keepAcked    int
	compactLines int

	entries map[string]*entry
	order   []string // first-seen order, so unacked results are re-sent oldest first; may hold forgotten ids
	acked   []string // ack order, oldest first: the ids forgotten first
	lines   int      // complete lines in the file
}

func openJournal(path string, log *slog.Logger) (*journal, error) {
	return openJournalBounded(path, log, defaultKeepAcked, defaultCompactLines)
}

func openJournalBounded(path string, log *slog.Logger, keepAcked, compactLines int) (*journal, error) {
	j := &journal{path: path, log: log, keepAcked: keepAcked, compactLines: compactLines, entries: map[string]*entry{}}
	if path == "" {
		return j, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if err := j.load(data); err != nil {
		return nil, err
	}
	if j.lines > len(j.entries) {
		if err := j.rewrite(); err != nil {
			return nil, fmt.Errorf("compact journal: %w", err)
		}
	}
	return j, nil
}

func (j *journal) load(data []byte) error {
	good := 0 // length of the prefix made of complete, valid lines
	for rest := data; len(rest) > 0; {
		line, tail, complete := bytes.Cut(rest, []byte{'\n'})
		var e entry
		err := json.Unmarshal(line, &e)
		if err == nil && e.ID == "" {
			err = fmt.Errorf("entry without id")
		}
		switch {
		case err == nil && !complete:
			// Only the newline is missing: the entry was written, so keep it
			// (its command did reach that phase) and end the line before
			// anything follows.
			j.put(e)
			if err := appendSync(j.path, []byte{'\n'}); err != nil {
				return fmt.Errorf("repair journal: %w", err)
			}
		case err != nil && complete && len(bytes.TrimSpace(tail)) > 0:
			return fmt.Errorf("journal %s: corrupt line at byte %d: %v", j.path, good, err)
		case err != nil:
			// A crash in the middle of an append leaves a partial last line.
			// Cut it off, or the next append would be glued onto it.
			j.log.Warn("journal: ignoring a truncated last line", "path", j.path, "offset", good, "bytes", len(rest))
			if err := os.Truncate(j.path, int64(good)); err != nil {
				return fmt.Errorf("truncate journal: %w", err)
			}
			return nil
		default:
			j.put(e)
		}
		j.lines++
		good += len(line) + 1
		rest = tail
	}
	return nil
}

func (j *journal) put(e entry) {
	old, seen := j.entries[e.ID]
	if !seen {
		j.order = append(j.order, e.ID)
	}
	j.entries[e.ID] = &e
	if e.Acked && (!seen || !old.Acked) {
		j.acked = append(j.acked, e.ID)
		if len(j.acked) > j.keepAcked {
			delete(j.entries, j.acked[0])
			j.acked = j.acked[1:]
		}
	}
}

// append makes e durable before the caller acts on it, so that nothing is
// sent or done that a restart could forget. When the write fails e is still
// kept in memory, so that this process at least answers the same way every
// time; only a restart can lose it.
func (j *journal) append(e entry) error {
	if j.path != "" {
		if err := j.write(e); err != nil {
			j.put(e)
			return fmt.Errorf("journal append: %w", err)
		}
		j.lines++
	}
	j.put(e)
	if j.path != "" && j.lines > j.compactLines && j.lines > 2*len(j.entries) {
		// e is durable already; a failed rewrite leaves the old file whole.
		if err := j.rewrite(); err != nil {
			j.log.Warn("journal: compaction failed; the file keeps growing", "path", j.path, "err", err)
		}
	}
	return nil
}

func (j *journal) write(e entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return appendSync(j.path, append(line, '\n'))
}

// rewrite replaces the file with one line per entry still kept: the acked
// ones in ack order, then the others in first-seen order, so that loading
// it rebuilds the same state. The new file is complete on disk before it
// takes the old one's name.
func (j *journal) rewrite() error {
	var buf bytes.Buffer
	order := append(append([]string(nil), j.acked...), j.unackedIDs()...)
	for _, id := range order {
		line, err := json.Marshal(j.entries[id])
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return err
	}
	if err := syncDir(j.path); err != nil {
		return err
	}
	j.order = order
	j.lines = len(order)
	return nil
}

func appendSync(path string, line []byte) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if os.IsNotExist(statErr) {
		return syncDir(path)
	}
	return nil
}

// syncDir makes a new or renamed directory entry of path durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (j *journal) get(id string) (entry, bool) {
	e, ok := j.entries[id]
	if !ok {
		return entry{}, false
	}
	return *e, true
}

// ack records that the cloud applied id's result; an ack for anything
// else is ignored.
func (j *journal) ack(id string) error {
	e, ok := j.entries[id]
	if !ok || e.Acked || !e.final() {
		return nil
	}
	acked := *e
	acked.Acked = true
	return j.append(acked)
}

// unacked is every command not acked yet, in first-seen order: results to
// re-send and commands that never got one.
func (j *journal) unacked() []entry {
	var out []entry
	for _, id := range j.unackedIDs() {
		out = append(out, *j.entries[id])
	}
	return out
}

func (j *journal) unackedIDs() []string {
	var ids []string
	seen := map[string]bool{} // a forgotten id that came back is in order twice
	for _, id := range j.order {
		if e, ok := j.entries[id]; ok && !e.Acked && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
