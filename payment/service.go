// Package payment is the gateway's application layer: it runs the domain
// rules against the store and the live terminals. The HTTP API calls it
// for every method; the terminal link calls it (as termlink.Handler) for
// credentials, progress and results.
package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
)

// Link is the live terminal link as the service needs it, in the
// domain's terms; the transport translates to its frames.
type Link interface {
	// SendCommand sends a command to its terminal; it fails (wrapping
	// posgate.ErrTerminalOffline) when the terminal is not connected.
	SendCommand(ctx context.Context, d posgate.Dispatch) error
	// SendAbort asks the terminal to stop a command.
	SendAbort(ctx context.Context, tid, commandID string, reason posgate.AbortReason) error
	// Online reports whether the terminal is connected now.
	Online(tid string) bool
}

// Payloads renders the data a notification carries and signs, in the
// merchant-facing shapes the transport owns.
type Payloads interface {
	Order(o posgate.Order) map[string]string
	Refund(r posgate.Refund, o posgate.Order) map[string]string
}

// Deps are the service's collaborators, all required but Observer.
type Deps struct {
	Store       posgate.Store
	Credentials *Credentials
	Link        Link
	Payloads    Payloads
	// Acquirer makes refunds cloud-side.
	Acquirer acquirer.Acquirer
	// Observer is told of finished commands, refunds and captures (the
	// gateway's metrics); nil tells no one.
	Observer Observer
}

// Defaults of Config, which the command line's flags reuse.
const (
	DefaultSaleTimeout  = 120 * time.Second
	DefaultDisplayWait  = 15 * time.Second
	DefaultReversalWait = 60 * time.Second
	DefaultAbortWait    = 10 * time.Second
	// DefaultReconcileAfter is how long after its card time an order whose
	// terminal has not answered still waits for that answer.
	DefaultReconcileAfter = 10 * time.Minute
	// DefaultAcquirerTimeout bounds one acquirer call.
	DefaultAcquirerTimeout = 30 * time.Second
	// DefaultMaxProgress bounds the progress events stored per command.
	DefaultMaxProgress = 64
)

// Config holds the service's tunables. Zero values take the defaults.
type Config struct {
	// SaleTimeout is how long an order waits for the card before it
	// expires (like the large providers' card acquisition timeout).
	SaleTimeout time.Duration
	// DisplayWait bounds how long v3.POS waits for the terminal to show
	// the amount.
	DisplayWait time.Duration
	// ReversalWait bounds how long v3.POSReversal waits for the terminal's
	// result.
	ReversalWait time.Duration
	// AbortWait bounds how long a cancel or an expiry waits for the
	// terminal to confirm that it closed its payment screen.
	AbortWait time.Duration
	// ReconcileAfter is how long after its card time an order whose
	// terminal has not answered waits for that answer before it expires
	// (the terminal journals its outcome and reports it on reconnect).
	ReconcileAfter time.Duration
	// AcquirerTimeout bounds one acquirer call (refund, capture,
	// decrement); the caller's context does not, so a client that hangs up
	// never leaves one half made. Refunds and captures still processing
	// after twice as long are taken by the recovery job, which runs as
	// often.
	AcquirerTimeout time.Duration
	// MaxProgress bounds the progress events stored per command; a
	// terminal that reports more has the rest dropped.
	MaxProgress int
	// WaitPoll, when set, makes an API call waiting for its terminal also
	// re-read the command from the database this often, so a result
	// applied by another gateway (a cluster) reaches it even when the
	// doorbell saying so (CommandFinished, CommandShown) is lost. Zero:
	// only this process's own results and doorbells wake waiters.
	WaitPoll time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.SaleTimeout <= 0 {
		c.SaleTimeout = DefaultSaleTimeout
	}
	if c.DisplayWait <= 0 {
		c.DisplayWait = DefaultDisplayWait
	}
	if c.ReversalWait <= 0 {
		c.ReversalWait = DefaultReversalWait
	}
	if c.AbortWait <= 0 {
		c.AbortWait = DefaultAbortWait
	}
	if c.ReconcileAfter <= 0 {
		c.ReconcileAfter = DefaultReconcileAfter
	}
	if c.AcquirerTimeout <= 0 {
		c.AcquirerTimeout = DefaultAcquirerTimeout
	}
	if c.MaxProgress <= 0 {
		c.MaxProgress = DefaultMaxProgress
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Service runs payments. Build it with New and start its background work
// with Run.
type Service struct {
	*Credentials
	cfg      Config
	store    posgate.Store
	link     Link
	payloads Payloads
	acquirer acquirer.Acquirer
	obs      Observer
	log      *slog.Logger

	mu      sync.Mutex
	waiters map[string]*waiter   // by command id
	aborted map[string]time.Time // trade id -> when an expiry abort was sent

	waitsEnded chan struct{} // closed by EndWaits
	endWaits   sync.Once

	locs     sync.Map // time zone name -> *time.Location
	late     lateCounts
	progress chan progressReport
}

// New builds a Service; every dependency is required.
func New(cfg Config, d Deps) *Service {
	if d.Store == nil || d.Credentials == nil || d.Link == nil || d.Payloads == nil || d.Acquirer == nil {
		panic(fmt.Sprintf("payment.New: missing dependency in %+v", d))
	}
	cfg = cfg.withDefaults()
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	return &Service{
		obs:         d.Observer,
		Credentials: d.Credentials,
		cfg:         cfg,
		store:       changeLog{Store: d.Store, log: cfg.Logger},
		link:        d.Link,
		payloads:    d.Payloads,
		acquirer:    d.Acquirer,
		log:         cfg.Logger,
		waiters:     map[string]*waiter{},
		aborted:     map[string]time.Time{},
		progress:    make(chan progressReport, 4096),
		waitsEnded:  make(chan struct{}),
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) location(name string) (*time.Location, error) {
	if l, ok := s.locs.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	s.locs.Store(name, l)
	return l, nil
}

// DuplicateError answers a request_id seen before. Order is set when the
// request repeats the original exactly, so a client that lost the first
// answer learns the outcome.
type DuplicateError struct {
	Order *posgate.Order
}

func (e *DuplicateError) Error() string { return "duplicate request_id" }
func (e *DuplicateError) Unwrap() error { return posgate.ErrDuplicateRequest }

// checkDuplicate refuses a request_id the user has used before.
func checkDuplicate(tx posgate.Tx, user, requestID, fingerprint string) error {
	rec, err := tx.Request(user, requestID)
	if errors.Is(err, posgate.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return duplicate(tx, rec, fingerprint)
}

// duplicate is the refusal of a request that repeats rec's request_id.
func duplicate(tx posgate.Tx, rec posgate.RequestRecord, fingerprint string) error {
	dup := &DuplicateError{}
	if rec.Fingerprint == fingerprint && rec.TradeID != "" {
		if o, err := tx.Order(rec.TradeID); err == nil {
			dup.Order = &o
		}
	}
	return dup
}

// newID returns a UUID version 7: time-ordered, so new rows land at the
// end of PostgreSQL's B-tree indexes instead of all over them.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// orderVisible loads an order the caller may see; others' orders do not
// exist for it.
func orderVisible(tx posgate.Tx, c Caller, tradeID string) (posgate.Order, error) {
	o, err := tx.Order(tradeID)
	if errors.Is(err, posgate.ErrNotFound) || (err == nil && !posgate.Visible(o, c.Principal)) {
		return posgate.Order{}, posgate.Refuse(posgate.ErrTradeNotFound, "The trade_id does not exist")
	}
	return o, err
}

// notifyOrder queues the order's notification in the same transaction as
// its state change.
func (s *Service) notifyOrder(tx posgate.Tx, o posgate.Order) error {
	if o.NotifyURL == "" {
		return nil
	}
	now := s.now()
	return tx.InsertNotification(posgate.Notification{
		ID:          newID(),
		MerchantID:  o.MerchantID,
		User:        o.User,
		TradeID:     o.TradeID,
		NotifyURL:   o.NotifyURL,
		Payload:     s.payloads.Order(o),
		CreatedAt:   now,
		NextAttempt: now,
	})
}

// saveOrder writes the order's change and queues its notification, in
// tx, and returns the order as stored (its version advanced).
func (s *Service) saveOrder(tx posgate.Tx, next posgate.Order) (posgate.Order, error) {
	if err := tx.UpdateOrder(next); err != nil {
		return next, err
	}
	next.Version++
	return next, s.notifyOrder(tx, next)
}

// orderForReversal reads in one go what checkDuplicate (when requestID
// is not empty), orderVisible and reversalContext would, and checks the
// first two: a request_id used before is refused first, then an order
// the caller may not see.
func (s *Service) orderForReversal(tx posgate.Tx, c Caller, tradeID, requestID, fingerprint string) (posgate.Order, *time.Location, bool, error) {
	rc, err := tx.OrderForReversal(tradeID, c.User, requestID)
	switch {
	case errors.Is(err, posgate.ErrNotFound):
		// No order, so no request was looked up.
		if requestID != "" {
			if err := checkDuplicate(tx, c.User, requestID, fingerprint); err != nil {
				return posgate.Order{}, nil, false, err
			}
		}
		return posgate.Order{}, nil, false, posgate.Refuse(posgate.ErrTradeNotFound, "The trade_id does not exist")
	case err != nil:
		return posgate.Order{}, nil, false, err
	case rc.Request != nil:
		return posgate.Order{}, nil, false, duplicate(tx, *rc.Request, fingerprint)
	case !posgate.Visible(rc.Order, c.Principal):
		return posgate.Order{}, nil, false, posgate.Refuse(posgate.ErrTradeNotFound, "The trade_id does not exist")
	}
	loc, err := s.location(rc.Terminal.Timezone)
	return rc.Order, loc, rc.InFlight, err
}

// reversalContext is what the reversal and cancel rules need besides the
// order: the time zone of its terminal, and whether a reversal of it is in
// flight.
func (s *Service) reversalContext(tx posgate.Tx, o posgate.Order) (*time.Location, bool, error) {
	term, err := tx.Terminal(o.TID)
	if err != nil {
		return nil, false, err
	}
	loc, err := s.location(term.Timezone)
	if err != nil {
		return nil, false, err
	}
	_, err = tx.ActiveReversal(o.TradeID)
	if err != nil && !errors.Is(err, posgate.ErrNotFound) {
		return nil, false, err
	}
	return loc, err == nil, nil
}

// Order returns an order for v3.QueryOrder: a terminal sees its own
// orders, a cashier those of its merchant.
func (s *Service) Order(ctx context.Context, c Caller, tradeID string) (posgate.Order, posgate.Merchant, error) {
	var o posgate.Order
	var m posgate.Merchant
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		if o, err = orderVisible(tx, c, tradeID); err != nil {
			return err
		}
		if c.Kind == posgate.KindTerminal && o.TID != c.User {
			return posgate.Refuse(posgate.ErrTradeNotFound, "The trade_id does not exist")
		}
		m, err = tx.Merchant(o.MerchantID)
		return err
	})
	return o, m, err
}
