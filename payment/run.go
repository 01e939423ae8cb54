package payment

import (
	"context"
	"time"
)

// Run does the service's background work until ctx ends: recording
// progress, expiring orders and uncaptured authorisations, clearing
// batches at their cutoff.
func (s *Service) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.writeProgress(ctx); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastClear, lastAuthExpiry := time.Time{}, time.Time{}
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-tick.C:
			if err := s.expireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("expire orders", "err", err)
			}
			if now := s.now(); now.Sub(lastAuthExpiry) >= authExpiryEvery {
				lastAuthExpiry = now
				if err := s.expireAuthorisations(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("expire authorisations", "err", err)
				}
			}
			if now := s.now(); now.Sub(lastClear) >= 30*time.Second {
				lastClear = now
				if err := s.clearDue(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("clear batches", "err", err)
				}
			}
		}
	}
}
