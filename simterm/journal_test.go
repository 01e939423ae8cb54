package simterm

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func journalLines(t *testing.T, path string) []entry {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []entry
	for line := range strings.Lines(string(data)) {
		var e entry
		require.NoError(t, json.Unmarshal([]byte(line), &e), "every line is whole: %q", line)
		out = append(out, e)
	}
	return out
}

func ids(es []entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func writeJournal(t *testing.T, path string, es ...entry) {
	t.Helper()
	var b strings.Builder
	for _, e := range es {
		line, err := json.Marshal(e)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

func phases(id string, acked bool) []entry {
	es := []entry{
		{ID: id, Kind: "sale", Amount: "1.00", Phase: phaseReceived, At: 1},
		{ID: id, Kind: "sale", Amount: "1.00", Phase: phaseAcquirer, At: 2},
		{ID: id, Kind: "sale", Amount: "1.00", Phase: phaseResult, Outcome: "approved", TransactionID: "SIM-" + id, At: 3},
	}
	if acked {
		e := es[2]
		e.Acked = true
		es = append(es, e)
	}
	return es
}

func TestJournalCompactedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	var lines []entry
	lines = append(lines, phases("c1", true)...)
	lines = append(lines, phases("c2", false)...)
	lines = append(lines, phases("c3", true)...)
	lines = append(lines, entry{ID: "c4", Kind: "sale", Phase: phaseReceived, At: 4})
	lines = append(lines, phases("c5", true)...)
	writeJournal(t, path, lines...)

	j, err := openJournalBounded(path, slog.New(slog.DiscardHandler), 2, defaultCompactLines)
	require.NoError(t, err)
	got := journalLines(t, path)
	assert.Equal(t, []string{"c3", "c5", "c2", "c4"}, ids(got), "the last two acked in ack order, then the unacked oldest first")
	for _, e := range got[:2] {
		assert.True(t, e.Acked)
		assert.Equal(t, "SIM-"+e.ID, e.TransactionID, "an acked result is kept whole, to answer a re-sent command")
	}
	assert.Equal(t, phaseResult, got[2].Phase)
	assert.False(t, got[2].Acked)
	assert.Equal(t, phaseReceived, got[3].Phase)
	_, ok := j.get("c1")
	assert.False(t, ok, "the oldest acked is forgotten")
	assert.Equal(t, []string{"c2", "c4"}, ids(j.unacked()))
	_, err = os.Stat(path + ".tmp")
	assert.True(t, os.IsNotExist(err), "no temporary file left behind")

	again, err := openJournalBounded(path, slog.New(slog.DiscardHandler), 2, defaultCompactLines)
	require.NoError(t, err)
	assert.Equal(t, j.entries, again.entries, "the rewritten file loads to the same state")
}

func TestJournalCompactedWhenItGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	const keep, bound = 3, 10
	j, err := openJournalBounded(path, slog.New(slog.DiscardHandler), keep, bound)
	require.NoError(t, err)
	require.NoError(t, j.append(entry{ID: "open", Kind: "sale", Phase: phaseAcquirer, At: 1}))
	for i := range 20 {
		for _, e := range phases(fmt.Sprintf("c%02d", i), false) {
			require.NoError(t, j.append(e))
		}
		require.NoError(t, j.ack(fmt.Sprintf("c%02d", i)))
		assert.LessOrEqual(t, len(journalLines(t, path)), bound, "after command %d", i)
	}
	assert.Equal(t, len(journalLines(t, path)), j.lines)

	again, err := openJournalBounded(path, slog.New(slog.DiscardHandler), keep, bound)
	require.NoError(t, err)
	assert.Equal(t, []string{"open"}, ids(again.unacked()), "the unacked command survives every rewrite")
	for i := range 20 {
		_, ok := again.get(fmt.Sprintf("c%02d", i))
		assert.Equal(t, i >= 20-keep, ok, "c%02d: only the last %d acked are kept", i, keep)
	}
}

func TestJournalTornLineAmongObsoleteOnes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	writeJournal(t, path, phases("c1", true)...)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"c2","kind":"sale","pha`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	j, err := openJournal(path, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Equal(t, []string{"c1"}, ids(journalLines(t, path)), "torn line cut, obsolete lines dropped")
	_, ok := j.get("c2")
	assert.False(t, ok)
	require.NoError(t, j.append(entry{ID: "c3", Kind: "sale", Phase: phaseReceived, At: 5}))
	assert.Equal(t, []string{"c1", "c3"}, ids(journalLines(t, path)))
}
