//go:build !unix

package e2e

import (
	"time"

	"github.com/posgate/posgate"
)

// cpuUse is not measured here; see cpu_unix_test.go.
type cpuUse struct{}

func cpuNow(posgate.Store) cpuUse { return cpuUse{} }

func (cpuUse) since(cpuUse) (self, backends time.Duration) { return 0, 0 }
