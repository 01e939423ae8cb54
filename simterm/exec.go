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
	cmd   termproto.Frame
	input chan string // Tap, Decline, Cancel
	abort chan string // the cloud's abort reason
}

type result struct {
	outcome, transactionID, message string
}

func resultFrame(e entry) termproto.Frame {
	return termproto.Frame{
		Type: termproto.TypeResult, ID: e.ID, Outcome: e.Outcome,
		TransactionID: e.TransactionID, Message: e.Message, At: e.At,
	}
}

// command decides what a command frame means: a duplicate of a finished
// command gets its stored result again, a duplicate of the running one is
// ignored, anything else while busy is refused, and the rest runs.
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
	if e, ok := t.journal.get(f.ID); ok {
		t.mu.Unlock()
		t.log.Info("command already executed; re-sending its result", "id", f.ID, "outcome", e.Outcome)
		t.send(resultFrame(e))
		return nil
	}
	if t.exec != nil {
		if t.exec.cmd.ID == f.ID {
			t.mu.Unlock()
			return nil
		}
		// The refusal is journaled like any result so that the cloud gets one
		// final answer for this id, even if it re-sends it later.
		e := entry{ID: f.ID, Kind: f.Kind, TradeID: f.TradeID, Amount: f.Amount, Currency: f.Currency,
			Outcome: termproto.OutcomeFailed, Message: "terminal busy", At: t.cfg.Now().UnixMilli()}
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
	x := &execution{cmd: f, input: make(chan string, 1), abort: make(chan string, 1)}
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

// abort stops a command that has not reached the acquirer yet; after that
// the acquirer's outcome stands.
func (t *Terminal) abort(f termproto.Frame) {
	t.mu.Lock()
	x := t.exec
	t.mu.Unlock()
	if x == nil || x.cmd.ID != f.ID {
		return
	}
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
	b := behaviour(x.cmd.Kind, x.cmd.Amount)
	t.show(x, ScreenAmount, amountNote(x.cmd))
	t.progress(x, termproto.StageOnScreen, "Amount shown")
	t.progress(x, termproto.StageWaitingForCard, "Tap, insert or swipe card")
	in, ok := t.await(ctx, x, !b.noCard)
	switch {
	case !ok:
		return result{}, false
	case in != inputTap && in != inputDecline:
		return stopped(in), true
	}
	t.show(x, ScreenCardRead, "")
	t.progress(x, termproto.StageCardRead, "Card read")
	t.show(x, ScreenAuthorising, "")
	t.progress(x, termproto.StageAuthorising, "Authorising")
	if !t.acquire(ctx, x, b) {
		return result{}, false
	}
	if in == inputDecline {
		return result{outcome: termproto.OutcomeDeclined, message: "Card declined"}, true
	}
	return outcome(b), true
}

func (t *Terminal) reverse(ctx context.Context, x *execution) (result, bool) {
	b := behaviour(x.cmd.Kind, x.cmd.Amount)
	t.show(x, ScreenReversalRequested, "")
	t.progress(x, termproto.StageReversalRequested, "Reversal shown")
	in, ok := t.await(ctx, x, true)
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
	if !t.acquire(ctx, x, b) {
		return result{}, false
	}
	return outcome(b), true
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
// confirmation), a decline, a cancel, the cloud's abort or the timeout. It
// reports false when the terminal is shutting down.
func (t *Terminal) await(ctx context.Context, x *execution, autoTap bool) (string, bool) {
	timeout := time.Duration(x.cmd.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultCardTimeout
	}
	expire := time.NewTimer(timeout)
	defer expire.Stop()
	var tap <-chan time.Time
	if autoTap && t.cfg.AutoTap {
		tm := time.NewTimer(t.cfg.CardDelay)
		defer tm.Stop()
		tap = tm.C
	}
	select {
	case <-ctx.Done():
		return "", false
	case <-tap:
		return inputTap, true
	case in := <-x.input:
		return in, true
	case reason := <-x.abort:
		t.log.Info("command aborted by the cloud", "id", x.cmd.ID, "reason", reason)
		return reason, true
	case <-expire.C:
		return termproto.OutcomeExpired, true
	}
}

// acquire is the call to the simulated acquirer. It reports false when the
// terminal is shutting down first, as if the request never left it.
func (t *Terminal) acquire(ctx context.Context, x *execution, b magic) bool {
	if b.latency > 0 && !sleep(ctx, b.latency) {
		return false
	}
	t.mu.Lock()
	t.executed[x.cmd.Kind]++
	t.mu.Unlock()
	return true
}

// finish journals the outcome, shows it and only then reports it, so that a
// crash at any point leaves a result that the next run still reports.
func (t *Terminal) finish(ctx context.Context, x *execution, r result) {
	c := x.cmd
	e := entry{ID: c.ID, Kind: c.Kind, TradeID: c.TradeID, Amount: c.Amount, Currency: c.Currency,
		Outcome: r.outcome, TransactionID: r.transactionID, Message: r.message, At: t.cfg.Now().UnixMilli()}
	t.mu.Lock()
	err := t.journal.append(e)
	// The terminal is free as soon as the outcome is journaled: the cloud
	// may send its next command the moment the result reaches it, and a
	// re-send of this one is answered from the journal.
	t.exec = nil
	t.showLocked(Screen{Name: outcomeScreen(c.Kind, r.outcome), CommandID: c.ID, TradeID: c.TradeID,
		Amount: c.Amount, Currency: c.Currency, Message: r.message})
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
	t.showLocked(Screen{Name: name, CommandID: c.ID, TradeID: c.TradeID, Amount: c.Amount, Currency: c.Currency, Message: message})
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
