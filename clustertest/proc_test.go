package clustertest

import (
	"time"
)

// poll checks cond until it holds or d passes, with short pauses between
// checks of state that lives in other processes.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
