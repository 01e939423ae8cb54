package acquirer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate/acquirer"
)

func TestSimulatedMagicAmounts(t *testing.T) {
	var a acquirer.Acquirer = acquirer.Simulated{SlowDelay: time.Millisecond}
	ctx := context.Background()
	for _, tc := range []struct {
		amount  int64
		outcome acquirer.Outcome
	}{
		{100, acquirer.Refunded},
		{acquirer.AmountFailed, acquirer.Failed},
		{acquirer.AmountUnknown, acquirer.Unknown},
		{acquirer.AmountSlow, acquirer.Refunded},
		{2050, acquirer.Refunded},
	} {
		res, err := a.Refund(ctx, acquirer.Request{RefundID: "rf", Amount: tc.amount, Currency: "EUR"})
		require.NoError(t, err, tc.amount)
		require.Equal(t, tc.outcome, res.Outcome, tc.amount)
		if tc.outcome == acquirer.Refunded {
			require.Regexp(t, `^SIM[0-9A-F]{20}$`, res.Reference)
		} else {
			require.Empty(t, res.Reference)
			require.NotEmpty(t, res.Message)
		}
	}
}

func TestSimulatedSlowHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := acquirer.Simulated{SlowDelay: time.Hour}.Refund(ctx, acquirer.Request{Amount: acquirer.AmountSlow})
	require.ErrorIs(t, err, context.Canceled)
}

func TestSimulatedCaptureAndDecrementMagicAmounts(t *testing.T) {
	a := acquirer.Simulated{SlowDelay: time.Millisecond}
	ctx := context.Background()
	for name, op := range map[string]func(context.Context, acquirer.AuthRequest) (acquirer.Result, error){
		"capture": a.Capture, "decrement": a.Decrement,
	} {
		for _, tc := range []struct {
			amount  int64
			outcome acquirer.Outcome
		}{
			{100, acquirer.Approved},
			{acquirer.AmountFailed, acquirer.Failed},
			{acquirer.AmountUnknown, acquirer.Unknown},
			{acquirer.AmountSlow, acquirer.Approved},
		} {
			res, err := op(ctx, acquirer.AuthRequest{ID: "cp", Amount: tc.amount, Currency: "EUR"})
			require.NoError(t, err, name, tc.amount)
			require.Equal(t, tc.outcome, res.Outcome, name, tc.amount)
			if tc.outcome == acquirer.Approved {
				require.Regexp(t, `^SIM[0-9A-F]{20}$`, res.Reference)
			} else {
				require.NotEmpty(t, res.Message)
			}
		}
	}
}

func TestByName(t *testing.T) {
	a, err := acquirer.ByName("simulated")
	require.NoError(t, err)
	require.True(t, acquirer.IsSimulated(a))
	_, err = acquirer.ByName("")
	require.ErrorContains(t, err, "no acquirer chosen")
	require.ErrorContains(t, err, "simulated")
	_, err = acquirer.ByName("adyen")
	require.ErrorContains(t, err, `"adyen"`)
	require.ErrorContains(t, err, "want one of simulated")
}
