package notify

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/posgate/posgate"
)

// Due is a notification whose delivery is due (the store's type, so that
// a store hands its rows over as they are).
type Due = posgate.DueNotification

// DueFunc finds the notifications due at now, at most limit, oldest first,
// and calls claim with each, serialised with the store's writes so that a
// delivery recorded before the scan is not found and one recorded after
// it was claimed when the scan ran. It returns how many rows it found; the
// claims stand only if it returns no error.
type DueFunc func(ctx context.Context, now time.Time, limit int, claim func(Due)) (int, error)

// DefaultPoll is how often a Dispatcher looks for due notifications it was
// not handed: retries, a replay by another process, the backlog after a
// restart.
const DefaultPoll = time.Second

// queueSize bounds the notifications a Dispatcher holds waiting for a
// worker; past it, the store's rows wait for the next scan.
const queueSize = 10_000

// scanBatch bounds the notifications one scan claims: it runs in the
// store's writer's turn, which a backlog of thousands would hold for tens
// of milliseconds. A full batch scans again at once.
const scanBatch = 1_000

// Dispatcher delivers the notifications of a store whose notification rows
// are the outbox (the SQLite store): the store hands it each notification
// once the transaction that made it due has committed, and it finds the
// others with DueFunc. Nothing but the rows themselves is written: an
// attempt is recorded on its row like any other write of the store, and a
// delivery in flight is claimed in memory only, so a crash leaves it due
// and the next start delivers it again (at least once).
//
// It runs in one gateway per database: two would both deliver what is due.
type Dispatcher struct {
	*deliverer
	due  DueFunc
	poll time.Duration

	queue chan Due
	kick  chan struct{}
	stop  chan struct{}
	// work is the attempts' context, cancelled when Stop gives up
	// waiting for them.
	work       context.Context
	cancelWork context.CancelFunc
	wg         sync.WaitGroup
	stopOnce   sync.Once

	mu sync.Mutex
	// claims are the notifications queued, waiting for their merchant's
	// share or in flight, by id.
	claims map[string]*claim
}

// claim is a notification the dispatcher holds: cur, and again, a new
// schedule of it (a replay) that came while cur was held, run once cur is
// done.
type claim struct{ cur, again *Due }

// NewDispatcher builds a Dispatcher that finds due notifications with due
// and looks again every poll (DefaultPoll when zero).
func NewDispatcher(cfg Config, due DueFunc, poll time.Duration) (*Dispatcher, error) {
	dl, err := newDeliverer(cfg)
	if err != nil {
		return nil, err
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	work, cancel := context.WithCancel(context.Background())
	return &Dispatcher{
		deliverer: dl, due: due, poll: poll,
		queue: make(chan Due, queueSize), kick: make(chan struct{}, 1), stop: make(chan struct{}),
		work: work, cancelWork: cancel, claims: map[string]*claim{},
	}, nil
}

// Committed takes notifications a commit made due. It never blocks: what
// finds the queue full waits in the store for the next scan.
func (d *Dispatcher) Committed(ns []Due) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range ns {
		if c, ok := d.claims[n.Notification.ID]; ok {
			// A scan of the same group commit may have claimed this very
			// schedule before it committed.
			if n.Before != c.cur.Before || n.Notification.Attempts != c.cur.Notification.Attempts {
				c.again = &n
			}
			continue
		}
		d.claims[n.Notification.ID] = &claim{cur: &n}
		d.enqueueLocked(n)
	}
}

// enqueueLocked queues a claimed notification, or drops its claim when the
// queue is full.
func (d *Dispatcher) enqueueLocked(n Due) {
	select {
	case d.queue <- n:
	default:
		delete(d.claims, n.Notification.ID)
	}
}

// Start runs the workers and the scans until Stop.
func (d *Dispatcher) Start(context.Context) error {
	for range d.workers {
		d.wg.Go(d.runWorker)
	}
	d.wg.Go(d.runScans)
	return nil
}

// Stop lets running attempts finish, cancelling them when ctx is done, and
// returns once the workers are. What is queued stays due in the store.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancelWork()
		<-done
	}
	d.cancelWork()
	return nil
}

func (d *Dispatcher) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

func (d *Dispatcher) runWorker() {
	for {
		select {
		case <-d.stop:
			return
		case n := <-d.queue:
			if d.stopped() {
				return
			}
			d.deliver(n)
		}
	}
}

// maxAttempts is the attempts of one schedule: the first and a retry after
// each of Schedule's delays.
var maxAttempts = len(Schedule) + 1

// deliver makes the due attempt at n, or puts it back for a while, without
// spending an attempt, when its merchant has its share of the workers busy.
func (d *Dispatcher) deliver(n Due) {
	if !d.shares.acquire(n.Notification.MerchantID) {
		time.AfterFunc(d.shares.retryIn(), func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.enqueueLocked(n)
		})
		return
	}
	attempt := n.Notification.Attempts - n.Before + 1
	last := attempt >= maxAttempts
	ctx, cancel := context.WithTimeout(d.work, 2*AttemptTimeout)
	err := d.attempt(ctx, n.Notification, attempt, last)
	cancel()
	if err != nil && !last {
		// A retry sooner than the next scan (tests' short schedules).
		if wait := d.delay(attempt); wait < d.poll {
			time.AfterFunc(wait, d.scanSoon)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.claims[n.Notification.ID]
	delete(d.claims, n.Notification.ID)
	if c != nil && c.again != nil {
		d.claims[n.Notification.ID] = &claim{cur: c.again}
		d.enqueueLocked(*c.again)
	}
}

func (d *Dispatcher) scanSoon() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) runScans() {
	tick := time.NewTicker(d.poll)
	defer tick.Stop()
	for {
		d.scan()
		select {
		case <-d.stop:
			return
		case <-tick.C:
		case <-d.kick:
		}
	}
}

// scan claims and queues the due notifications not claimed yet, as many as
// the queue has room for.
func (d *Dispatcher) scan() {
	room := min(cap(d.queue)-len(d.queue), scanBatch)
	if room <= 0 {
		return
	}
	d.mu.Lock()
	// The rows in flight are due too: read past them.
	limit := room + len(d.claims)
	d.mu.Unlock()
	var got []Due
	_, err := d.due(d.work, d.now(), limit, func(n Due) {
		if len(got) == room {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, ok := d.claims[n.Notification.ID]; !ok {
			d.claims[n.Notification.ID] = &claim{cur: &n}
			got = append(got, n)
		}
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range got {
		if err != nil {
			delete(d.claims, n.Notification.ID)
		} else {
			d.enqueueLocked(n)
		}
	}
	if err != nil && !d.stopped() {
		d.log.Warn("notification scan failed", "err", err)
	}
	if err == nil && len(got) == room {
		d.scanSoon() // more may be due
	}
}

// Describe and Collect make the dispatcher a Prometheus collector of its
// deliveries, as Queue is.
func (d *Dispatcher) Describe(ch chan<- *prometheus.Desc) {
	d.shares.Describe(ch)
	d.metrics.Describe(ch)
}

func (d *Dispatcher) Collect(ch chan<- prometheus.Metric) {
	d.shares.Collect(ch)
	d.metrics.Collect(ch)
}
