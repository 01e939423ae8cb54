package clustertest

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPosgateBenchOnCluster runs the real `posgate bench --server
// URL1,URL2,URL3` against the three nodes: its terminals spread over them,
// each client calling the node after its terminal's (every command
// routed), no call failing.
func TestPosgateBenchOnCluster(t *testing.T) {
	c := newCluster(t, 3)
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.URL)
	}
	cmd := exec.Command(bin, "bench", "--server", strings.Join(urls, ","), "--db", c.dsn,
		"--terminals", "6", "--concurrency", "6", "--duration", "3s", "--json")
	cmd.Env = append(os.Environ(), gatewayEnv...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("posgate bench: %v\n%s", err, out)
	}
	var rep struct {
		Cycles       int64            `json:"cycles"`
		ErrorsByCode map[string]int64 `json:"errors_by_code"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// A terminal's presence row is written just after its welcome, which
	// is when the bench starts calling: a first call on another node may
	// find it offline.
	offline := rep.ErrorsByCode["-4201"]
	delete(rep.ErrorsByCode, "-4201")
	if rep.Cycles == 0 || len(rep.ErrorsByCode) > 0 || offline > 6 {
		t.Fatalf("cycles %d, -4201 %d, other errors %v", rep.Cycles, offline, rep.ErrorsByCode)
	}
	if got := c.count(`SELECT count(DISTINCT tid) FROM orders`); got != 6 {
		t.Errorf("orders of %d terminals, want 6", got)
	}
	t.Logf("%d cycles, every command routed", rep.Cycles)
}
