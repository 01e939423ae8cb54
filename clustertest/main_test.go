package clustertest

import (
	"flag"
	"testing"

	"time"

	"github.com/posgate/posgate/internal/bintest"
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

func TestMain(m *testing.M) { bintest.Main(m, &bin) }
