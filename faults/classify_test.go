package faults

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClassify pins the checker's rules on hand-made outcomes, so a matrix
// of zeros means the faults did no harm rather than that nothing was
// looked at.
func TestClassify(t *testing.T) {
	t.Parallel()
	const trade, sale, rev = "trade-1", "cmd-sale", "cmd-rev"
	approved := func(reversed bool) truth {
		tr := truth{
			approvedSales: map[string][]string{trade: {sale}}, approvedReversals: map[string][]string{},
			transactionID: map[string]string{trade: "SIM1"}, executions: map[string]int{sale: 1},
		}
		if reversed {
			tr.approvedReversals[trade] = []string{rev}
		}
		return tr
	}
	nothing := truth{approvedSales: map[string][]string{}, approvedReversals: map[string][]string{}, transactionID: map[string]string{}, executions: map[string]int{}}
	snap := func(state, txn string, reversals ...string) snapshot {
		s := snapshot{orders: map[string]orderRow{trade: {state: state, transactionID: txn}}}
		for _, st := range reversals {
			s.reversals = append(s.reversals, reversalRow{tradeID: trade, commandID: rev, state: st})
		}
		return s
	}
	cases := []struct {
		name  string
		truth truth
		snap  snapshot
		want  expectation
		check func(*testing.T, verdict)
	}{
		{"approved and paid", approved(false), snap("paid", "SIM1"), paid, func(t *testing.T, v verdict) { require.True(t, v.clean(), v.String()) }},
		{"approved, expired, not reversed: lost", approved(false), snap("expired", ""), expectation{}, func(t *testing.T, v verdict) { require.Len(t, v.lost, 1, v.String()) }},
		{"approved, expired, reversed and recorded", approved(true), snap("expired", "", "approved"), expectation{orderStates: []string{"paid", "expired"}}, func(t *testing.T, v verdict) { require.True(t, v.clean(), v.String()) }},
		{"approved, reversed on the terminal, nothing recorded", approved(true), snap("expired", ""), expectation{}, func(t *testing.T, v verdict) { require.Len(t, v.wrong, 1, v.String()) }},
		{"reversed on the terminal, still paid", approved(true), snap("paid", "SIM1", "approved"), expectation{}, func(t *testing.T, v verdict) { require.Len(t, v.wrong, 1, v.String()) }},
		{"paid with another reference", approved(false), snap("paid", "SIM2"), paid, func(t *testing.T, v verdict) { require.Len(t, v.wrong, 1, v.String()) }},
		{"paid without an approval", nothing, snap("paid", "SIM1"), expectation{}, func(t *testing.T, v verdict) { require.Len(t, v.wrong, 1, v.String()) }},
		{"still processing", nothing, snap("processing", ""), expectation{}, func(t *testing.T, v verdict) { require.Len(t, v.stuck, 1, v.String()) }},
		{"declined, as expected", nothing, snap("failed", ""), failed, func(t *testing.T, v verdict) { require.True(t, v.clean(), v.String()) }},
		{"an unexpected final state", nothing, snap("expired", ""), failed, func(t *testing.T, v verdict) { require.Len(t, v.wrong, 1, v.String()) }},
		{"authorised twice", func() truth {
			tr := approved(false)
			tr.approvedSales[trade] = []string{sale, "cmd-sale-2"}
			return tr
		}(), snap("paid", "SIM1"), paid, func(t *testing.T, v verdict) { require.Len(t, v.doubled, 1, v.String()) }},
		{"one command at the acquirer twice", func() truth {
			tr := approved(false)
			tr.executions[sale] = 2
			return tr
		}(), snap("paid", "SIM1"), paid, func(t *testing.T, v verdict) { require.Len(t, v.doubled, 1, v.String()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcv := newReceiver(t, secret)
			for id, o := range c.snap.orders {
				rcv.accepted[id] = []string{o.state}
			}
			c.check(t, classify(c.truth, c.snap, rcv, c.want))
		})
	}
	t.Run("a final state never notified", func(t *testing.T) {
		v := classify(approved(false), snap("paid", "SIM1"), newReceiver(t, secret), paid)
		require.Len(t, v.unnotified, 1, v.String())
	})
}
