package payment

import (
	"context"
	"time"
)

// Run does the service's background work until ctx ends: recording
// progress, expiring orders and uncaptured authorisations, clearing
// batches at their cutoff, finishing stuck refunds, captures and decrements. Each transition is a
// compare-and-set, so gateways sharing a database may all run it and each
// change still happens once.
func (s *Service) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.writeProgress(ctx); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	clear, recovery := runEvery{every: 30 * time.Second}, runEvery{every: s.cfg.AcquirerTimeout}
	auths := runEvery{every: authExpiryEvery}
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-tick.C:
			if err := s.expireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("expire orders", "err", err)
			}
			now := s.now()
			if auths.due(now) {
				if err := s.expireAuthorisations(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("expire authorisations", "err", err)
				}
			}
			if clear.due(now) {
				if err := s.clearDue(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("clear batches", "err", err)
				}
			}
			if recovery.due(now) {
				if err := s.recoverRefunds(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("recover stuck refunds", "err", err)
				}
				if err := s.recoverCaptures(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("recover stuck captures", "err", err)
				}
				if err := s.recoverDecrements(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("recover stuck decrements", "err", err)
				}
			}
		}
	}
}
