package simterm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// entry is one command's final result. The file is append-only JSON lines:
// an ack appends the entry again with Acked set, and the last line for an id
// wins when loading.
type entry struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	TradeID       string `json:"trade_id,omitempty"`
	Amount        string `json:"amount,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Outcome       string `json:"outcome"`
	TransactionID string `json:"transaction_id,omitempty"`
	Message       string `json:"message,omitempty"`
	At            int64  `json:"at"` // Unix ms of the result
	Acked         bool   `json:"acked"`
}

// journal is not safe for concurrent use; Terminal guards it with its mutex.
type journal struct {
	path    string // empty: in memory only
	entries map[string]*entry
	order   []string // first-seen order, so unacked results are re-sent oldest first
}

func openJournal(path string, log *slog.Logger) (*journal, error) {
	j := &journal{path: path, entries: map[string]*entry{}}
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
			// (its command did run) and end the line before anything follows.
			j.put(e)
			if err := appendSync(path, []byte{'\n'}); err != nil {
				return nil, fmt.Errorf("repair journal: %w", err)
			}
		case err != nil && complete && len(bytes.TrimSpace(tail)) > 0:
			return nil, fmt.Errorf("journal %s: corrupt line at byte %d: %v", path, good, err)
		case err != nil:
			// A crash in the middle of an append leaves a partial last line.
			// Cut it off, or the next append would be glued onto it.
			log.Warn("journal: ignoring a truncated last line", "path", path, "offset", good, "bytes", len(rest))
			if err := os.Truncate(path, int64(good)); err != nil {
				return nil, fmt.Errorf("truncate journal: %w", err)
			}
			return j, nil
		default:
			j.put(e)
		}
		good += len(line) + 1
		rest = tail
	}
	return j, nil
}

func (j *journal) put(e entry) {
	if _, ok := j.entries[e.ID]; !ok {
		j.order = append(j.order, e.ID)
	}
	j.entries[e.ID] = &e
}

// append makes e durable before it becomes visible, so a result is never
// sent that a restart could forget.
func (j *journal) append(e entry) error {
	if j.path != "" {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := appendSync(j.path, append(line, '\n')); err != nil {
			return fmt.Errorf("journal append: %w", err)
		}
	}
	j.put(e)
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
		// A new file's directory entry must be durable too.
		d, err := os.Open(filepath.Dir(path))
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}
	return nil
}

func (j *journal) get(id string) (entry, bool) {
	e, ok := j.entries[id]
	if !ok {
		return entry{}, false
	}
	return *e, true
}

func (j *journal) ack(id string) error {
	e, ok := j.entries[id]
	if !ok || e.Acked {
		return nil
	}
	acked := *e
	acked.Acked = true
	return j.append(acked)
}

func (j *journal) unacked() []entry {
	var out []entry
	for _, id := range j.order {
		if e := j.entries[id]; !e.Acked {
			out = append(out, *e)
		}
	}
	return out
}
