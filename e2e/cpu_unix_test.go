//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/postgres"
)

// cpuUse is the CPU time used so far by this process (gateway, simulated
// terminals and clients) and by the PostgreSQL backends serving the
// store's pool, when the server runs on this machine. On a machine shared
// with other work, CPU per operation shows what a change saves better
// than the rate does.
type cpuUse struct {
	self     time.Duration
	backends map[uint32]time.Duration // by backend pid
}

func cpuNow(st posgate.Store) cpuUse {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	u := cpuUse{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), backends: map[uint32]time.Duration{}}
	if p, ok := st.(*postgres.Store); ok {
		for _, c := range p.Pool().AcquireAllIdle(context.Background()) {
			pid := c.Conn().PgConn().PID()
			u.backends[pid] = processCPU(pid)
			c.Release()
		}
	}
	return u
}

// since is the CPU used between before and u; a backend that is not in
// before started in between.
func (u cpuUse) since(before cpuUse) (self, backends time.Duration) {
	for pid, t := range u.backends {
		backends += t - before.backends[pid]
	}
	return u.self - before.self, backends
}

// processCPU is the user and system time of a process from
// /proc/PID/stat (Linux; zero elsewhere), in clock ticks of 10 ms, the
// USER_HZ of every Linux build in use.
func processCPU(pid uint32) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	var user, system int64
	if len(f) < 13 {
		return 0
	}
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &system)
	return time.Duration(user+system) * 10 * time.Millisecond
}
