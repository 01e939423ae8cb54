package payment

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/vault"
)

// NewTerminal describes a terminal to add.
type NewTerminal struct {
	Merchant string
	TID      string
	Secret   string // hex; empty: a new random secret
	Timezone string // default Europe/Amsterdam
	Currency string // default EUR
	Cutoff   int    // minutes after local midnight; default 30
}

// NewCashier describes a cashier to add.
type NewCashier struct {
	Merchant string
	UID      string
	Secret   string
	// RefundAuthority defaults to immediate, unlike YabandPay's "Approved":
	// a self-hosted gateway usually has no back office to approve in.
	RefundAuthority posgate.RefundAuthority
}

var userPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// checkSecret accepts a given secret only when it is hex of at least 32
// bytes, the strength a generated one has.
func checkSecret(secret string) (string, error) {
	if secret == "" {
		return vault.NewSecret(), nil
	}
	b, err := hex.DecodeString(secret)
	if err != nil || len(b) < 32 {
		return "", fmt.Errorf("--secret must be at least 64 hex characters (32 bytes)")
	}
	return secret, nil
}

// AddTerminal creates the merchant when its name is new, then the
// terminal, and returns the secret_key (the only time it is shown).
func AddTerminal(ctx context.Context, st posgate.Store, sealer *vault.Sealer, in NewTerminal, now time.Time) (string, error) {
	if !userPattern.MatchString(in.TID) {
		return "", fmt.Errorf("tid must be 1-32 letters, digits, '-' or '_'")
	}
	if in.Merchant == "" {
		return "", fmt.Errorf("merchant name is required")
	}
	if in.Timezone == "" {
		in.Timezone = posgate.DefaultTimezone
	}
	if _, err := time.LoadLocation(in.Timezone); err != nil {
		return "", fmt.Errorf("unknown time zone %q", in.Timezone)
	}
	if in.Currency == "" {
		in.Currency = posgate.DefaultCurrency
	}
	if _, ok := posgate.LookupCurrency(in.Currency); !ok {
		return "", fmt.Errorf("unsupported currency %q", in.Currency)
	}
	if in.Cutoff == 0 {
		in.Cutoff = posgate.DefaultCutoff
	}
	if in.Cutoff < 0 || in.Cutoff >= 24*60 {
		return "", fmt.Errorf("cutoff must be between 0 and 1439 minutes after midnight")
	}
	secret, err := checkSecret(in.Secret)
	if err != nil {
		return "", err
	}
	now = now.UTC()
	err = st.InTx(ctx, func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant(in.Merchant, now)
		if err != nil {
			return err
		}
		t := posgate.Terminal{TID: in.TID, MerchantID: m.ID, Timezone: in.Timezone, Currency: in.Currency, CutoffMinutes: in.Cutoff, CreatedAt: now}
		return tx.InsertTerminal(t, sealer.Seal([]byte(secret), []byte(in.TID)))
	})
	if err != nil {
		return "", fmt.Errorf("add terminal %s: %w", in.TID, err)
	}
	return secret, nil
}

// AddCashier creates the merchant when its name is new, then the cashier,
// and returns the secret_key.
func AddCashier(ctx context.Context, st posgate.Store, sealer *vault.Sealer, in NewCashier, now time.Time) (string, error) {
	if !userPattern.MatchString(in.UID) {
		return "", fmt.Errorf("uid must be 1-32 letters, digits, '-' or '_'")
	}
	if in.Merchant == "" {
		return "", fmt.Errorf("merchant name is required")
	}
	switch in.RefundAuthority {
	case "":
		in.RefundAuthority = posgate.RefundImmediate
	case posgate.RefundImmediate, posgate.RefundApproval, posgate.RefundDisabled:
	default:
		return "", fmt.Errorf("refund authority must be immediate, approval or disabled")
	}
	secret, err := checkSecret(in.Secret)
	if err != nil {
		return "", err
	}
	now = now.UTC()
	err = st.InTx(ctx, func(tx posgate.Tx) error {
		m, err := tx.EnsureMerchant(in.Merchant, now)
		if err != nil {
			return err
		}
		c := posgate.Cashier{UID: in.UID, MerchantID: m.ID, RefundAuthority: in.RefundAuthority, CreatedAt: now}
		return tx.InsertCashier(c, sealer.Seal([]byte(secret), []byte(in.UID)))
	})
	if err != nil {
		return "", fmt.Errorf("add cashier %s: %w", in.UID, err)
	}
	return secret, nil
}

// TerminalState is a terminal with the command it has in flight, if any,
// and the last stage it reported for it: what its screen shows.
type TerminalState struct {
	posgate.Terminal
	InFlight *posgate.Command
	Screen   *posgate.CommandEvent
}

// Terminals lists every terminal (tid empty) or one (posgate.ErrNotFound
// when unknown), with its command in flight.
func (s *Service) Terminals(ctx context.Context, tid string) ([]TerminalState, error) {
	var out []TerminalState
	err := s.store.Read(ctx, func(tx posgate.Tx) error {
		out = out[:0]
		var terms []posgate.Terminal
		if tid == "" {
			var err error
			if terms, err = tx.Terminals(); err != nil {
				return err
			}
		} else {
			t, err := tx.Terminal(tid)
			if err != nil {
				return err
			}
			terms = []posgate.Terminal{t}
		}
		for _, t := range terms {
			ts := TerminalState{Terminal: t}
			c, err := tx.InFlightCommand(t.TID)
			if err == nil {
				ts.InFlight = &c
				evs, err := tx.Events(c.ID)
				if err != nil {
					return err
				}
				if len(evs) > 0 {
					ts.Screen = &evs[len(evs)-1]
				}
			} else if !errors.Is(err, posgate.ErrNotFound) {
				return err
			}
			out = append(out, ts)
		}
		return nil
	})
	return out, err
}
