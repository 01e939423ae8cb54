// Package payment is the gateway's application layer: it runs the domain
// rules against the store and the live terminals. The HTTP API calls it
// for every method; the terminal link calls it (as termlink.Handler) for
// credentials, progress and results.
package payment

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/acquirer"
	"github.com/posgate/posgate/protocol"
	"github.com/posgate/posgate/termproto"
	"github.com/posgate/posgate/vault"
)

// Terminals is the live terminal link as the service needs it.
type Terminals interface {
	Send(ctx context.Context, tid string, f termproto.Frame) error
	Online(tid string) bool
}

// Config holds the service's tunables. Zero values take the defaults.
type Config struct {
	// SaleTimeout is how long an order waits for the card before it
	// expires (default 120 s, like the large providers' card acquisition
	// timeout).
	SaleTimeout time.Duration
	// DisplayWait bounds how long v3.POS waits for the terminal to show
	// the amount (default 15 s).
	DisplayWait time.Duration
	// ReversalWait bounds how long v3.POSReversal waits for the terminal's
	// result (default 60 s).
	ReversalWait time.Duration
	// AbortWait bounds how long a cancel or an expiry waits for the
	// terminal to confirm that it closed its payment screen (default 10 s).
	AbortWait time.Duration
	// Acquirer makes refunds (default: the simulated acquirer, whose
	// magic amounts are in docs/refunds.md). Real connectors implement
	// acquirer.Acquirer.
	Acquirer acquirer.Acquirer
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.SaleTimeout <= 0 {
		c.SaleTimeout = 120 * time.Second
	}
	if c.DisplayWait <= 0 {
		c.DisplayWait = 15 * time.Second
	}
	if c.ReversalWait <= 0 {
		c.ReversalWait = 60 * time.Second
	}
	if c.AbortWait <= 0 {
		c.AbortWait = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Acquirer == nil {
		c.Acquirer = acquirer.Simulated{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Service runs payments. Build it with New, attach the terminal link with
// SetTerminals, and start its background work with Run.
type Service struct {
	cfg    Config
	store  posgate.Store
	sealer *vault.Sealer
	terms  Terminals
	log    *slog.Logger

	mu      sync.Mutex
	waiters map[string]*waiter   // by command id
	aborted map[string]time.Time // trade id -> when an expiry abort was sent

	cache    sync.Map // user -> Caller
	locs     sync.Map // time zone name -> *time.Location
	progress chan posgate.CommandEvent
}

// New builds a Service.
func New(cfg Config, store posgate.Store, sealer *vault.Sealer) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		cfg:      cfg,
		store:    store,
		sealer:   sealer,
		log:      cfg.Logger,
		waiters:  map[string]*waiter{},
		aborted:  map[string]time.Time{},
		progress: make(chan posgate.CommandEvent, 4096),
	}
}

// SetTerminals attaches the terminal link; the link needs the service as
// its handler, so the two are joined after both exist.
func (s *Service) SetTerminals(t Terminals) { s.terms = t }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Caller is an authenticated principal with its opened secret.
type Caller struct {
	posgate.Principal
	Secret string
}

// Authenticate finds user and opens its secret. Unknown users are
// posgate.ErrNotFound. Principals never change, so they are cached.
func (s *Service) Authenticate(ctx context.Context, user string) (Caller, error) {
	if c, ok := s.cache.Load(user); ok {
		return c.(Caller), nil
	}
	var p posgate.Principal
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		var err error
		p, err = tx.Principal(user)
		return err
	})
	if err != nil {
		return Caller{}, err
	}
	secret, err := s.sealer.Open(p.SealedSecret, []byte(p.User))
	if err != nil {
		return Caller{}, fmt.Errorf("open secret of %s: %w", user, err)
	}
	c := Caller{Principal: p, Secret: string(secret)}
	s.cache.Store(user, c)
	return c, nil
}

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

// Fingerprint identifies a request's method and data, so an exact repeat
// of a request_id can be told from a different request reusing it.
func Fingerprint(method string, data map[string]string) string {
	h := sha256.Sum256([]byte(method + "\n" + protocol.StringToSign(data)))
	return hex.EncodeToString(h[:])
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
	dup := &DuplicateError{}
	if rec.Fingerprint == fingerprint && rec.TradeID != "" {
		if o, err := tx.Order(rec.TradeID); err == nil {
			dup.Order = &o
		}
	}
	return dup
}

// newID returns 128 random bits as lowercase hex in 8-4-4-4-12 groups.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

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
		Payload:     ViewOrder(o).Fields(),
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
