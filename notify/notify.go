// Package notify delivers the notification outbox: each notification the
// store holds is POSTed, signed, to its notify_url, and it is sent if and
// only if the transaction that stored it (its state change's) committed,
// across restarts and crashes. On PostgreSQL a River job, which the store
// enqueues in the same transaction as the notification row, delivers it
// (Queue); on SQLite the rows themselves are the outbox, handed to a
// Dispatcher as they commit (dispatch.go).
//
// Delivery is at least once: a crash between a delivery and its record
// sends it again, with the same Webhook-Id.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/posgate/posgate"
)

// Schedule is the delay before each retry: nine retries over about three
// days and three hours, after the first attempt.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// migrateAttempts bounds the tries at River's migrations.
const migrateAttempts = 6

// queueName is River's queue for deliveries.
const queueName = "notifications"

// Args is the River job: deliver notification ID.
type Args struct {
	ID string `json:"id"`
}

func (Args) Kind() string { return "posgate_notification" }

// InsertOpts fixes the attempts at insert time, so jobs inserted by any
// process (the CLI's replay too) follow the same schedule.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: len(Schedule) + 1}
}

// Config is what the delivery worker needs.
type Config struct {
	Store posgate.Store
	// Secret returns the secret_key of a user, which signs its
	// notifications.
	Secret func(ctx context.Context, user string) (string, error)
	// AllowPrivate lets notifications go to loopback and private
	// addresses (development only).
	AllowPrivate bool
	// Delays replaces Schedule (tests); past its end the last delay
	// repeats.
	Delays []time.Duration
	// Workers bounds concurrent deliveries (default 100).
	Workers int
	// PerMerchant is one merchant's share of the workers in this process
	// (default a tenth of Workers, at least 1): a slow or dead endpoint
	// holds no more; a merchant whose last delivery succeeded quickly may
	// borrow idle workers beyond it, leaving a share free (see shares).
	PerMerchant int
	// ShareWait is how long a delivery over its merchant's share waits
	// before it is tried again, plus a random extra of up to as much
	// (default 1 s). The wait is not an attempt: it never counts against
	// the retry schedule.
	ShareWait time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Queue is River on the store's database (the PostgreSQL store's outbox).
// Its Enqueue is the store's notification hook.
type Queue[TTx any] struct {
	client  *river.Client[TTx]
	shares  *shares // nil when the queue only enqueues
	metrics *deliveries
}

// Open migrates River's tables and returns the queue. With cfg nil it can
// only enqueue (an operator command's replay); otherwise Start runs the
// deliveries.
func Open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg *Config) (*Queue[TTx], error) {
	log := slog.New(slog.DiscardHandler)
	if cfg != nil && cfg.Logger != nil {
		log = cfg.Logger
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	// Processes starting together (gateways beside an operator command)
	// race to apply the same versions; the losers fail on River's
	// version table and find them applied when they try again.
	for attempt := 1; ; attempt++ {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			break
		}
		if attempt == migrateAttempts {
			return nil, fmt.Errorf("notify: migrate River: %w", err)
		}
		select {
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	rc := &river.Config{Logger: log}
	q := &Queue[TTx]{}
	if cfg != nil {
		w, err := newWorker(*cfg)
		if err != nil {
			return nil, err
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		q.shares, q.metrics = w.shares, w.metrics
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{queueName: {MaxWorkers: w.workers}}
		// The SQLite driver's listener polls every 50 ms; a short cooldown
		// lets a busy queue fetch again as soon as slots free up.
		rc.FetchCooldown = 5 * time.Millisecond
		rc.FetchPollInterval = 250 * time.Millisecond
		// An attempt is bounded by AttemptTimeout plus its two store
		// calls. A job still running long after that belonged to a
		// crashed process and is retried.
		rc.JobTimeout = 3 * AttemptTimeout
		rc.RescueStuckJobsAfter = 6 * AttemptTimeout
		rc.SoftStopTimeout = AttemptTimeout
		// The notifications table is the record; River's rows only
		// schedule.
		rc.CompletedJobRetentionPeriod = time.Hour
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	q.client = client
	return q, nil
}

// Enqueue schedules a delivery of each notification of ids in tx, in one
// insert.
func (q *Queue[TTx]) Enqueue(ctx context.Context, tx TTx, ids []string) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: Args{ID: id}}
	}
	_, err := q.client.InsertManyFastTx(ctx, tx, params)
	return err
}

// Start runs the deliveries until Stop.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running attempts finish (cancelling them after AttemptTimeout)
// and returns once the workers are done.
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errors.Join(err, q.client.StopAndCancel(context.WithoutCancel(ctx)))
	}
	return err
}

// Describe and Collect make the queue a Prometheus collector of its
// deliveries: per merchant (in flight, and deferred for being over their
// merchant's share), their lag and their failed attempts.
func (q *Queue[TTx]) Describe(ch chan<- *prometheus.Desc) {
	if q.shares != nil {
		q.shares.Describe(ch)
		q.metrics.Describe(ch)
	}
}

func (q *Queue[TTx]) Collect(ch chan<- prometheus.Metric) {
	if q.shares != nil {
		q.shares.Collect(ch)
		q.metrics.Collect(ch)
	}
}

// Runner is a Queue whatever its transaction type, as the gateway starts,
// stops and measures it.
type Runner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	prometheus.Collector
}
