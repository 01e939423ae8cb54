package simterm

import (
	"context"
	"time"

	"github.com/posgate/posgate/termproto"
)

const (
	inputTap     = "tap"
	inputDecline = "decline"
)

// execution is the command on screen. It runs on its own goroutine so it
// survives reconnects: a customer does not stop tapping because the link
// blinked.
type execution struct {
	cmd    termproto.Frame
	input  chan string // Tap, Decline, Cancel
	abort  chan string // the cloud's abort reason
	action *Action     // what the customer does, if scripted (Queue, SetStanding)
}

type result struct {
	outcome, transactionID, message string
	receipt                         Receipt
}

func resultFrame(e entry) termproto.Frame {
	return termproto.Frame{
		Type: termproto.TypeResult, ID: e.ID, Outcome: e.Outcome,
		TransactionID: e.TransactionID, Message: e.Message, At: e.At,
		CardBrand: e.Receipt.Brand, CardMaskedPAN: e.Receipt.MaskedPAN, CardEntryMode: e.Receipt.EntryMode,
		CardAuthCode: e.Receipt.AuthCode, CardAID: e.Receipt.AID,
	}
}

// command decides what a command frame means: a duplicate of the running
// one is ignored, any other id in the journal gets its result again (an
// interrupted one is settled first), anything else while busy is refused,
// and the rest is journaled and runs.
func (t *Terminal) command(ctx context.Context, f termproto.Frame) error {
	t.mu.Lock()
	if t.faults.DropAfterReceive {
		fs := t.faults
		fs.DropAfterReceive = false
		t.setFaultsLocked(fs)
		t.mu.Unlock()
		t.log.Info("dropping the connection after receiving a command", "id", f.ID)
		return errDropped
	}
	if t.exec != nil && t.exec.cmd.ID == f.ID {
		t.mu.Unlock()
		return nil
	}
	if e, ok := t.journal.get(f.ID); ok {
		e = t.settleLocked(e)
		t.mu.Unlock()
		t.log.Info("command already seen; re-sending its result instead of running it", "id", f.ID, "outcome", e.Outcome)
		t.send(resultFrame(e))
		return nil
	}
	if t.exec != nil {
		// The refusal is journaled like any result so that the cloud gets one
		// final answer for this id, even if it re-sends it later.
		e := commandEntry(f, phaseResult, t.cfg.Now())
		e.Outcome, e.Message = termproto.OutcomeFailed, "terminal busy"
		err := t.journal.append(e)
		busyWith := t.exec.cmd.ID
		t.mu.Unlock()
		if err != nil {
			t.log.Error("journal append", "id", e.ID, "err", err)
		}
		t.log.Warn("command while busy", "id", f.ID, "busy_with", busyWith)
		t.send(resultFrame(e))
		return nil
	}
	if err := t.journal.append(commandEntry(f, phaseReceived, t.cfg.Now())); err != nil {
		// A command the file does not hold could run again after a
		// restart; refusing it moves no money.
		e := commandEntry(f, phaseResult, t.cfg.Now())
		e.Outcome, e.Message = termproto.OutcomeFailed, "journal unavailable"
		t.journal.append(e) // fails too, but a re-send in this run gets the same answer
		t.mu.Unlock()
		t.log.Error("journal append failed; refusing the command", "id", f.ID, "err", err)
		t.send(resultFrame(e))
		return nil
	}
	x := &execution{cmd: f, input: make(chan string, 1), abort: make(chan string, 1), action: t.nextActionLocked()}
	t.exec = x
	t.execs.Add(1)
	t.mu.Unlock()
	t.log.Info("command", "id", f.ID, "kind", f.Kind, "amount", f.Amount, "currency", f.Currency)
	go func() {
		defer t.execs.Done()
		t.execute(ctx, x)
	}()
	return nil
}

func commandEntry(f termproto.Frame, phase string, at time.Time) entry {
	return entry{ID: f.ID, Kind: f.Kind, TradeID: f.TradeID, Amount: f.Amount, Currency: f.Currency,
		Phase: phase, At: at.UnixMilli()}
}

// settleLocked returns e's final result. A command journaled without one
// is not running (the caller checked) and never will again: the terminal
// restarted, or Run returned, before the acquirer's answer, which would
// otherwise be its result already. So it ends interrupted, journaled
// before anyone hears of it so that the answer never changes.
func (t *Terminal) settleLocked(e entry) entry {
	if e.final() {
		return e
	}
	e.Message = "Interrupted before the card was read"
	if e.Phase == phaseAcquirer {
		e.Message = "Interrupted before the acquirer answered"
	}
	e.Phase, e.Outcome, e.At = phaseResult, termproto.OutcomeInterrupted, t.cfg.Now().UnixMilli()
	if err := t.journal.append(e); err != nil {
		t.log.Error("journal append failed; the interrupted result is not durable", "id", e.ID, "err", err)
	}
	return e
}

// abort stops a command that has not reached the acquirer yet; after that
// the acquirer's outcome stands. The abort of a command that is not running
// is answered with its result, so that the cloud learns how it ended.
func (t *Terminal) abort(f termproto.Frame) {
	t.mu.Lock()
	x := t.exec
	if x == nil || x.cmd.ID != f.ID {
		e, ok := t.journal.get(f.ID)
		if ok {
			e = t.settleLocked(e)
		}
		t.mu.Unlock()
		if ok {
			t.log.Info("abort of a command no longer running; re-sending its result", "id", f.ID, "outcome", e.Outcome)
			t.send(resultFrame(e))
		}
		return
	}
	t.mu.Unlock()
	reason := termproto.OutcomeCancelled
	if f.Reason == termproto.AbortExpired {
		reason = termproto.OutcomeExpired
	}
	select {
	case x.abort <- reason:
	default:
	}
}

func (t *Terminal) execute(ctx context.Context, x *execution) {
	t.progress(x, termproto.StageReceived, "Command received")
	var (
		r  result
		ok bool
	)
	if x.cmd.Kind == termproto.KindReversal {
		r, ok = t.reverse(ctx, x)
	} else {
		r, ok = t.pay(ctx, x)
	}
	if ok {
		t.finish(ctx, x, r)
		return
	}
	t.mu.Lock()
	t.exec = nil
	t.mu.Unlock()
}

func (t *Terminal) pay(ctx context.Context, x *execution) (result, bool) {
	b := scripted(x, behaviour(x.cmd.Kind, x.cmd.Amount))
	t.show(x, ScreenAmount, amountNote(x.cmd))
	t.progress(x, termproto.StageOnScreen, "Amount shown")
	t.progress(x, termproto.StageWaitingForCard, "Tap, insert or swipe card")
	in, ok := t.await(ctx, x, b.noCard)
	switch {
	case !ok:
		return result{}, false
	case in != inputTap && in != inputDecline:
		return stopped(in), true
	}
	t.show(x, ScreenCardRead, cardNote(x))
	t.progress(x, termproto.StageCardRead, "Card read")
	t.show(x, ScreenAuthorising, "")
	t.progress(x, termproto.StageAuthorising, "Authorising")
	return t.acquire(ctx, x, b, in == inputDecline)
}

func (t *Terminal) reverse(ctx context.Context, x *execution) (result, bool) {
	b := scripted(x, behaviour(x.cmd.Kind, x.cmd.Amount))
	t.show(x, ScreenReversalRequested, "")
	t.progress(x, termproto.StageReversalRequested, "Reversal shown")
	in, ok := t.await(ctx, x, false)
	switch {
	case !ok:
		return result{}, false
	case in == inputDecline:
		return result{outcome: termproto.OutcomeDeclined, message: "Reversal refused by the operator"}, true
	case in != inputTap:
		return stopped(in), true
	}
	t.show(x, ScreenReversalProcessing, "")
	t.progress(x, termproto.StageProcessing, "Reversal sent to the acquirer")
	return t.acquire(ctx, x, b, false)
}

func stopped(outcome string) result {
	if outcome == termproto.OutcomeExpired {
		return result{outcome: outcome, message: "Timed out waiting for the card"}
	}
	return result{outcome: outcome, message: "Cancelled"}
}

func outcome(b magic) result {
	r := result{outcome: b.outcome, message: b.message}
	if r.outcome == termproto.OutcomeApproved {
		r.transactionID = acquirerReference()
		r.message = "Approved"
	}
	return r
}

func amountNote(f termproto.Frame) string {
	if f.TipAmount == "" || f.TipAmount == "0" || f.TipAmount == "0.00" {
		return f.Description
	}
	if f.Description == "" {
		return "incl. tip " + f.TipAmount
	}
	return f.Description + ", incl. tip " + f.TipAmount
}

// await waits for the customer or operator: the card (or the reversal's
// confirmation), a decline, a cancel, the cloud's abort or the timeout;
// noCard is the magic amount's customer who never taps. It reports false
// when the terminal is shutting down.
func (t *Terminal) await(ctx context.Context, x *execution, noCard bool) (string, bool) {
	timeout := time.Duration(x.cmd.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultCardTimeout
	}
	expire := time.NewTimer(timeout)
	defer expire.Stop()
	var planned <-chan time.Time
	in, delay := t.planned(x, noCard)
	if in != "" {
		tm := time.NewTimer(delay)
		defer tm.Stop()
		planned = tm.C
	}
	select {
	case <-ctx.Done():
		return "", false
	case <-planned:
		return in, true
	case in := <-x.input:
		return in, true
	case reason := <-x.abort:
		t.log.Info("command aborted by the cloud", "id", x.cmd.ID, "reason", reason)
		return reason, true
	case <-expire.C:
		return termproto.OutcomeExpired, true
	}
}

// acquire is the call to the simulated acquirer; declined is the card the
// issuer declines. "Sent to the acquirer" is journaled before the call, as
// from then on the card may be charged. It reports false when the terminal
// stops before the answer arrives: shutting down during the acquirer's
// latency (the request never left), or the CrashBeforeAnswer fault.
func (t *Terminal) acquire(ctx context.Context, x *execution, b magic, declined bool) (result, bool) {
	t.mu.Lock()
	err := t.journal.append(commandEntry(x.cmd, phaseAcquirer, t.cfg.Now()))
	t.mu.Unlock()
	if err != nil {
		t.log.Error("journal append failed; not calling the acquirer", "id", x.cmd.ID, "err", err)
		return result{outcome: termproto.OutcomeFailed, message: "Journal unavailable; not sent to the acquirer"}, true
	}
	if b.latency > 0 && !sleep(ctx, b.latency) {
		return result{}, false
	}
	t.mu.Lock()
	t.executed[x.cmd.Kind]++
	crash := t.faults.CrashBeforeAnswer
	if crash {
		f := t.faults
		f.CrashBeforeAnswer = false
		t.setFaultsLocked(f)
		t.crashed = true
	}
	t.mu.Unlock()
	if t.cfg.OnAcquirer != nil {
		t.cfg.OnAcquirer(x.cmd)
	}
	if crash {
		t.crash <- struct{}{}
		return result{}, false
	}
	if declined {
		return result{outcome: termproto.OutcomeDeclined, message: "Card declined"}, true
	}
	r := outcome(b)
	if r.outcome == termproto.OutcomeApproved && x.cmd.Kind != termproto.KindReversal {
		r.receipt = receiptFor(x.cmd.Amount, x.action)
	}
	return r, true
}

// finish journals the outcome (an acquirer's answer the moment it is back
// from acquire), shows it and only then reports it, so that a crash at any
// point leaves a result that the next run still reports.
func (t *Terminal) finish(ctx context.Context, x *execution, r result) {
	c := x.cmd
	e := commandEntry(c, phaseResult, t.cfg.Now())
	e.Outcome, e.TransactionID, e.Message, e.Receipt = r.outcome, r.transactionID, r.message, r.receipt
	t.mu.Lock()
	err := t.journal.append(e)
	// The terminal is free as soon as the outcome is journaled: the cloud
	// may send its next command the moment the result reaches it, and a
	// re-send of this one is answered from the journal.
	t.exec = nil
	t.showLocked(Screen{Name: outcomeScreen(c.Kind, r.outcome), Kind: c.Kind, CommandID: c.ID, TradeID: c.TradeID,
		Amount: c.Amount, Currency: c.Currency, Message: r.message, Receipt: r.receipt})
	crash := t.faults.CrashBeforeResult
	if crash {
		f := t.faults
		f.CrashBeforeResult = false
		t.setFaultsLocked(f)
		t.crashed = true
	}
	delay := t.faults.ResultDelay
	t.mu.Unlock()
	if err != nil {
		// The result still goes out: the cloud applies it once, and only a
		// crash before its ack could make this command run twice.
		t.log.Error("journal append failed; the result is not durable", "id", c.ID, "err", err)
	}
	if crash {
		t.crash <- struct{}{}
		return
	}
	if stage := outcomeStage(r.outcome); stage != "" {
		t.progress(x, stage, r.message)
	}
	if delay > 0 && !sleep(ctx, delay) {
		return
	}
	t.log.Info("result", "id", c.ID, "outcome", r.outcome, "transaction_id", r.transactionID)
	t.send(resultFrame(e))
}

func outcomeScreen(kind, outcome string) string {
	if kind == termproto.KindReversal {
		switch outcome {
		case termproto.OutcomeApproved:
			return ScreenReversalApproved
		case termproto.OutcomeDeclined:
			return ScreenReversalDeclined
		}
	}
	// Outcome names double as screen names.
	return outcome
}

// outcomeStage is the progress stage announcing an outcome; termproto has
// none for expired and failed, which the result alone reports.
func outcomeStage(outcome string) string {
	switch outcome {
	case termproto.OutcomeApproved:
		return termproto.StageApproved
	case termproto.OutcomeDeclined:
		return termproto.StageDeclined
	case termproto.OutcomeCancelled:
		return termproto.StageCancelled
	}
	return ""
}

func (t *Terminal) show(x *execution, name, message string) {
	c := x.cmd
	t.mu.Lock()
	defer t.mu.Unlock()
	t.showLocked(Screen{Name: name, Kind: c.Kind, CommandID: c.ID, TradeID: c.TradeID, Amount: c.Amount, Currency: c.Currency, Message: message})
}

func (t *Terminal) progress(x *execution, stage, message string) {
	t.send(termproto.Frame{Type: termproto.TypeProgress, ID: x.cmd.ID, Stage: stage, Message: message, At: t.cfg.Now().UnixMilli()})
}

func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
