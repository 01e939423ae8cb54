package clustertest

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var (
	outageFlag = flag.Duration("clustertest.outage", 30*time.Second,
		"how long TestNATSRestartAndOutage keeps NATS down (issue 15's 30 s; shorter for a quick local run)")
	stormFlag = flag.Int("clustertest.storm", 0,
		"terminals on the node TestKillStorm kills; 0 skips the measurement (docs/benchmarks.md used 3000)")
	stormLiftFlag = flag.Bool("clustertest.storm-unlimited", false,
		"TestKillStorm without the nodes' accept limit (--rate-accept), to compare")
	cyclesFlag = flag.Duration("clustertest.cycles", 0,
		"how long TestCyclesPerNodeCount loads each cluster size; 0 skips the measurement")
)

// bin is the posgate binary under test, built once.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "posgate-clustertest")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "posgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/posgate/posgate/cmd/posgate")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
