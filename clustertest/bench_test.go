package clustertest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPosgateBenchOnCluster runs the real `posgate bench --server
// URL1,URL2,URL3` against the three nodes: its terminals spread over them,
// each client calling the node after its terminal's (every command
// routed), no call failing.
func TestPosgateBenchOnCluster(t *testing.T) {
	c := newCluster(t, 3)
	rep := c.bench(t, 6, 3*time.Second)
	// A terminal's presence row is written just after its welcome, which
	// is when the bench starts calling, and its clients call again at once:
	// the first calls on another node may find it offline (docs/cluster.md).
	offline := rep.ErrorsByCode["-4201"]
	delete(rep.ErrorsByCode, "-4201")
	if rep.Cycles < 10 || len(rep.ErrorsByCode) > 0 {
		t.Fatalf("cycles %d, -4201 %d, other errors %v", rep.Cycles, offline, rep.ErrorsByCode)
	}
	if offline > 0 {
		t.Logf("%d answers -4201", offline)
	}
	if got := c.count(`SELECT count(DISTINCT tid) FROM orders`); got != 6 {
		t.Errorf("orders of %d terminals, want 6", got)
	}
	t.Logf("%d cycles, every command routed", rep.Cycles)
}

// benchReport is the part of `posgate bench --json` the tests read.
type benchReport struct {
	Cycles          int64            `json:"cycles"`
	CyclesPerSecond float64          `json:"cycles_per_second"`
	ErrorsByCode    map[string]int64 `json:"errors_by_code"`
	LatencyMS       map[string]struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
}

// bench runs `posgate bench --server` with every node's URL, as many
// clients as terminals.
func (c *cluster) bench(t *testing.T, terminals int, d time.Duration) benchReport {
	t.Helper()
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.URL)
	}
	cmd := exec.Command(bin, "bench", "--server", strings.Join(urls, ","), "--db", c.dsn, "--terminals", fmt.Sprint(terminals),
		"--concurrency", fmt.Sprint(terminals), "--duration", d.String(), "--json")
	cmd.Env = append(os.Environ(), gatewayEnv...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("posgate bench: %v\n%s", err, out)
	}
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return rep
}
