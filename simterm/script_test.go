package simterm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/termproto"
)

func TestScriptedActionsChooseEachOutcome(t *testing.T) {
	fc := newCloud(t)
	// No auto-tap: only the script acts.
	r := start(t, fc, Config{})
	cc := fc.next(t)
	r.screen(t, ScreenIdle)

	ms := func(n int64) *int64 { return &n }
	cases := []struct {
		act     Action
		cmd     termproto.Frame
		outcome string
		stages  []string
	}{
		{Action{Do: ActionTap, Brand: "visa", EntryMode: EntryContactless}, sale("s1", "12.50"), termproto.OutcomeApproved, append(paymentStages, termproto.StageApproved)},
		{Action{Do: ActionDecline}, sale("s2", "12.50"), termproto.OutcomeDeclined, append(paymentStages, termproto.StageDeclined)},
		{Action{Do: ActionCancel}, sale("s3", "12.50"), termproto.OutcomeCancelled,
			[]string{termproto.StageReceived, termproto.StageOnScreen, termproto.StageWaitingForCard, termproto.StageCancelled}},
		{Action{Do: ActionTimeout, DelayMS: ms(0)}, sale("s4", "12.50"), termproto.OutcomeExpired,
			[]string{termproto.StageReceived, termproto.StageOnScreen, termproto.StageWaitingForCard}},
		{Action{Do: ActionFail}, sale("s5", "12.50"), termproto.OutcomeFailed, paymentStages},
		// A tap on a magic amount: the acquirer still decides.
		{Action{Do: ActionTap}, sale("s6", "1.05"), termproto.OutcomeDeclined, append(paymentStages, termproto.StageDeclined)},
		// A tap overrides the magic customer who never taps.
		{Action{Do: ActionTap}, sale("s7", "1.07"), termproto.OutcomeApproved, append(paymentStages, termproto.StageApproved)},
		{Action{Do: ActionDecline}, reversal("r1", "12.50"), termproto.OutcomeDeclined,
			[]string{termproto.StageReceived, termproto.StageReversalRequested, termproto.StageDeclined}},
		{Action{Do: ActionTap}, reversal("r2", "12.50"), termproto.OutcomeApproved,
			[]string{termproto.StageReceived, termproto.StageReversalRequested, termproto.StageProcessing, termproto.StageApproved}},
	}
	for _, c := range cases {
		require.NoError(t, r.Queue(c.act))
	}
	queued, standing := r.Script()
	require.Len(t, queued, len(cases))
	require.Nil(t, standing)
	for _, c := range cases {
		cc.send(t, c.cmd)
		stages, res := cc.stages(t, c.cmd.ID)
		assert.Equal(t, c.outcome, res.Outcome, c.cmd.ID)
		assert.Equal(t, c.stages, stages, c.cmd.ID)
	}
	queued, _ = r.Script()
	assert.Empty(t, queued, "each command took one action")
	assert.Equal(t, 1, r.Executed(termproto.KindReversal), "a refused reversal never reached the acquirer")
}

func TestScriptedCardIsShownAndNoCardWaits(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	r.screen(t, ScreenIdle)

	require.NoError(t, r.Queue(Action{Do: ActionTap, Brand: "mastercard", EntryMode: EntryChip}))
	cc.send(t, sale("c1", "3.00"))
	s := r.screen(t, ScreenCardRead)
	assert.Equal(t, "MASTERCARD chip", s.Message)
	assert.Equal(t, termproto.KindSale, s.Kind)
	cc.result(t, "c1")

	// no_card: neither auto-tap nor anything else acts; the cloud's abort ends it.
	require.NoError(t, r.Queue(Action{Do: ActionNoCard}))
	cc.send(t, sale("c2", "3.00"))
	r.screen(t, ScreenAmount)
	select {
	case f := <-cc.frames:
		if f.Type == termproto.TypeResult {
			t.Fatalf("no_card ended by itself: %+v", f)
		}
	case <-time.After(50 * time.Millisecond): // auto-tap would have fired after 1 ms
	}
	cc.send(t, termproto.Frame{Type: termproto.TypeAbort, ID: "c2", Reason: termproto.AbortCancelled})
	assert.Equal(t, termproto.OutcomeCancelled, cc.result(t, "c2").Outcome)
}

func TestStandingBehaviourUntilCleared(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	r.screen(t, ScreenIdle)

	require.NoError(t, r.SetStanding(&Action{Do: ActionDecline}))
	require.NoError(t, r.Queue(Action{Do: ActionTap}))
	// In order: the queued action first, then the standing one.
	for _, c := range []struct{ id, want string }{{"q1", termproto.OutcomeApproved}, {"q2", termproto.OutcomeDeclined}, {"q3", termproto.OutcomeDeclined}} {
		cc.send(t, sale(c.id, "2.00"))
		assert.Equal(t, c.want, cc.result(t, c.id).Outcome, c.id)
	}
	require.NoError(t, r.SetStanding(nil))
	cc.send(t, sale("q4", "2.00"))
	assert.Equal(t, termproto.OutcomeApproved, cc.result(t, "q4").Outcome, "back to auto-tap")
}

func TestActionChecks(t *testing.T) {
	big := int64(MaxActionDelay/time.Millisecond) + 1
	neg := int64(-1)
	for _, a := range []Action{{}, {Do: "wave"}, {Do: ActionTap, DelayMS: &big}, {Do: ActionTap, DelayMS: &neg},
		{Do: ActionTap, Brand: "Visa"}, {Do: ActionTap, Brand: "averyveryverylongbrandname"}, {Do: ActionTap, EntryMode: "nfc"}} {
		assert.Error(t, a.Check(), "%+v", a)
	}
	fc := newCloud(t)
	r := start(t, fc, Config{})
	for range MaxQueuedActions {
		require.NoError(t, r.Queue(Action{Do: ActionTap}))
	}
	assert.ErrorIs(t, r.Queue(Action{Do: ActionTap}), ErrQueueFull)
	r.ClearQueue()
	queued, _ := r.Script()
	assert.Empty(t, queued)
}

func TestDropLinkReconnects(t *testing.T) {
	fc := newCloud(t)
	r := start(t, fc, Config{AutoTap: true})
	cc := fc.next(t)
	r.screen(t, ScreenIdle)
	require.True(t, r.DropLink())
	assert.False(t, r.Current().Online, "offline at once")
	cc.closed(t)
	fc.next(t)
	r.screen(t, ScreenIdle)
	assert.False(t, r.Tap(), "no command on screen")
}
