package simterm

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// RunHeadless runs a terminal that taps every card by itself and writes
// one line per screen change to w (see FormatLine). It returns what Run
// returns.
func RunHeadless(ctx context.Context, cfg Config, w io.Writer) error {
	cfg.AutoTap = true
	t, err := New(cfg)
	if err != nil {
		return err
	}
	return t.RunPrinting(ctx, w)
}

// RunPrinting is Run, writing one line per screen change to w (see
// FormatLine): the headless terminal, for a caller that also holds t, such
// as a control API.
func (t *Terminal) RunPrinting(ctx context.Context, w io.Writer) error {
	screens, unsubscribe := t.Subscribe()
	var printer sync.WaitGroup
	printer.Go(func() {
		last := ""
		for s := range screens {
			if line := FormatLine(t.cfg.TID, s); line != last {
				fmt.Fprintln(w, line)
				last = line
			}
		}
	})
	err := t.Run(ctx)
	unsubscribe() // the printer drains what is buffered, then ends
	printer.Wait()
	return err
}

// FormatLine renders s as one headless line:
//
//	screen=<name> tid=<tid> cmd=<id> trade_id=<id> amount=<12.50> currency=EUR
//	card_brand=Visa card_masked_pan=411111******1111 card_entry_mode=contactless
//	card_auth_code=<6 digits> card_aid=A0000000031010 message="<text>"
//
// (one line; the card_* keys only on an approval's screen).
// Keys come in that order; empty ones are left out except screen and tid.
// message is always Go-quoted (strconv.Quote); any other value is quoted
// the same way only if it is empty or holds a space, a quote or an '='.
func FormatLine(tid string, s Screen) string {
	var b strings.Builder
	field := func(k, v string, always bool) {
		if v == "" && !always {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		if v == "" || strings.ContainsAny(v, " \t\r\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	field("screen", s.Name, true)
	field("tid", tid, true)
	field("cmd", s.CommandID, false)
	field("trade_id", s.TradeID, false)
	field("amount", s.Amount, false)
	field("currency", s.Currency, false)
	field("card_brand", s.Receipt.Brand, false)
	field("card_masked_pan", s.Receipt.MaskedPAN, false)
	field("card_entry_mode", s.Receipt.EntryMode, false)
	field("card_auth_code", s.Receipt.AuthCode, false)
	field("card_aid", s.Receipt.AID, false)
	if s.Message != "" {
		b.WriteString(" message=" + strconv.Quote(s.Message))
	}
	return b.String()
}
