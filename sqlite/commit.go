package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/posgate/posgate"
)

// maxGroup bounds how many InTx calls share one commit, so one commit's
// latency stays bounded too.
const maxGroup = 128

// ErrClosed is returned by InTx after Close.
var ErrClosed = errors.New("sqlite: store is closed")

// job is one InTx call waiting for the committer.
type job struct {
	ctx   context.Context
	fn    func(posgate.Tx) error
	err   error
	panic any
	done  chan struct{}
}

type committer struct {
	jobs     chan *job
	quit     chan struct{}
	finished chan struct{}
	stopOnce sync.Once
}

func (s *Store) startCommitter() {
	s.jobs = make(chan *job, maxGroup)
	s.quit = make(chan struct{})
	s.finished = make(chan struct{})
	go s.commitLoop()
}

func (s *Store) stopCommitter() {
	s.stopOnce.Do(func() { close(s.quit) })
	<-s.finished
}

// InTx runs fn in a transaction. Calls that arrive while a commit is under
// way are grouped: each runs inside its own savepoint (its error rolls back
// only its own writes), and one COMMIT makes them all durable. A call
// returns only once its writes are committed, or not at all. The whole
// group is retried when the database stayed locked by another process.
func (s *Store) InTx(ctx context.Context, fn func(tx posgate.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.jobs <- j:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the outcome is awaited whatever ctx does: returning
	// early could report a failure for writes that then commit.
	<-j.done
	if j.panic != nil {
		panic(j.panic)
	}
	return j.err
}

func (s *Store) commitLoop() {
	defer close(s.finished)
	group := make([]*job, 0, maxGroup)
	for {
		var j *job
		select {
		case j = <-s.jobs:
		case <-s.quit:
			// Finish what was queued before Close.
			for {
				select {
				case j := <-s.jobs:
					s.commitGroup([]*job{j})
				default:
					return
				}
			}
		}
		group = append(group[:0], j)
	gather:
		for len(group) < maxGroup {
			select {
			case j := <-s.jobs:
				group = append(group, j)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup runs the group, retrying it whole while the database is
// locked by another connection, and releases every caller.
func (s *Store) commitGroup(group []*job) {
	var err error
	for range maxAttempts {
		if err = s.runGroup(group); !locked(err) {
			break
		}
	}
	for _, j := range group {
		if err != nil && j.err == nil && j.panic == nil {
			j.err = err
		}
		close(j.done)
	}
}

// runGroup runs each job in a savepoint of one transaction and commits.
// A job whose fn fails or panics is rolled back to its savepoint and
// keeps its own error; err is what failed the transaction as a whole.
func (s *Store) runGroup(group []*job) (err error) {
	ctx := context.Background()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	wrote, writers := false, 0
	var scheduled []Scheduled
	for _, j := range group {
		j.err, j.panic = nil, nil
		if err := j.ctx.Err(); err != nil {
			j.err = err
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			return err
		}
		t := &tx{ctx: ctx, tx: sqlTx, store: s}
		j.panic, j.err = call(j.fn, t)
		if j.err != nil || j.panic != nil {
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO job"); err != nil {
				return err
			}
			if locked(j.err) {
				return j.err
			}
		} else if t.wrote {
			wrote = true
			writers++
			scheduled = append(scheduled, t.scheduled...)
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE job"); err != nil {
			return err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	if wrote {
		s.commits.Add(1)
		s.txs.Add(uint64(writers))
	}
	// Only now: a notification is delivered only if its change committed.
	s.dispatchCommitted(scheduled)
	return nil
}

// call runs fn, turning a panic into a value InTx re-raises in the
// caller's goroutine.
func call(fn func(posgate.Tx) error, t *tx) (p any, err error) {
	defer func() {
		if r := recover(); r != nil {
			p = r
			if err == nil {
				err = fmt.Errorf("sqlite: transaction function panicked: %v", r)
			}
		}
	}()
	return nil, fn(t)
}
