package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/posgate/posgate"
)

// worker makes one delivery attempt per River job attempt and records it
// on the notification row.
type worker struct {
	river.WorkerDefaults[Args]
	*deliverer
}

// deliverer makes and records delivery attempts, for River's worker and
// for the Dispatcher alike.
type deliverer struct {
	store   posgate.Store
	secret  func(ctx context.Context, user string) (string, error)
	sender  *Sender
	delays  []time.Duration
	workers int
	shares  *shares
	metrics *deliveries
	now     func() time.Time
	log     *slog.Logger
}

func newWorker(cfg Config) (*worker, error) {
	d, err := newDeliverer(cfg)
	if err != nil {
		return nil, err
	}
	return &worker{deliverer: d}, nil
}

func newDeliverer(cfg Config) (*deliverer, error) {
	if cfg.Store == nil || cfg.Secret == nil {
		return nil, errors.New("notify: Config needs Store and Secret")
	}
	w := &deliverer{
		store: cfg.Store, secret: cfg.Secret, sender: NewSender(cfg.AllowPrivate),
		delays: cfg.Delays, workers: cfg.Workers, now: cfg.Now, log: cfg.Logger,
	}
	if len(w.delays) == 0 {
		w.delays = Schedule
	}
	if w.workers <= 0 {
		w.workers = 100
	}
	perMerchant, shareWait := cfg.PerMerchant, cfg.ShareWait
	if perMerchant <= 0 {
		perMerchant = max(1, w.workers/10)
	}
	if shareWait <= 0 {
		shareWait = time.Second
	}
	w.shares = newShares(perMerchant, w.workers, shareWait)
	w.metrics = newDeliveries()
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w, nil
}

// delay is the wait after the given attempt (1-based).
func (w *deliverer) delay(attempt int) time.Duration {
	return w.delays[min(attempt, len(w.delays))-1]
}

func (w *worker) NextRetry(job *river.Job[Args]) time.Time {
	return time.Now().Add(w.delay(job.Attempt))
}

func (w *worker) Timeout(*river.Job[Args]) time.Duration { return 2 * AttemptTimeout }

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	var n posgate.Notification
	err := w.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		n, err = tx.Notification(job.Args.ID)
		return err
	})
	if err != nil {
		return err
	}
	// Delivered already: this job was rescued after a crash that came
	// between the delivery's record and the job's completion.
	if n.DeliveredAt != nil {
		return nil
	}
	// Over its merchant's share, the job goes back to the queue without
	// using an attempt (River's snooze does not count one), and its
	// worker is free for another merchant at once.
	if !w.shares.acquire(n.MerchantID) {
		return river.JobSnooze(w.shares.retryIn())
	}
	return w.attempt(ctx, n, job.Attempt, job.Attempt >= job.MaxAttempts)
}

// attempt makes the given attempt (1-based, of n's current schedule;
// last when the schedule has no retry after it) at delivering n, holding
// one of its merchant's share, and records it on n's row.
func (w *deliverer) attempt(ctx context.Context, n posgate.Notification, attempt int, last bool) error {
	now := w.now().UTC()
	began := time.Now()
	// A secret that cannot be read fails the attempt like an answer that
	// is not 2xx: recorded, and retried on the schedule.
	secret, sendErr := w.secret(ctx, n.User)
	if sendErr == nil {
		sendErr = w.sender.Send(ctx, secret, n, now)
	}
	w.shares.release(n.MerchantID, sendErr == nil, time.Since(began))
	n.Attempts++
	if sendErr == nil {
		n.DeliveredAt, n.LastError, n.NextAttempt = &now, "", time.Time{}
		w.metrics.delivered(now.Sub(n.CreatedAt))
	} else {
		w.metrics.failed()
		n.LastError, n.NextAttempt = sendErr.Error(), time.Time{}
		if !last {
			n.NextAttempt = now.Add(w.delay(attempt))
		}
		w.log.Warn("notification not delivered", "id", n.ID, "trade_id", n.TradeID, "attempt", attempt, "err", sendErr)
	}
	// Recorded even when the job's context is done: the attempt was made.
	err := w.store.InTx(context.WithoutCancel(ctx), func(tx posgate.Tx) error { return tx.UpdateNotification(n) })
	return errors.Join(sendErr, err)
}
