package simterm

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/posgate/posgate/termproto"
)

// magic is how the simulated acquirer and customer behave for one amount.
type magic struct {
	payments  bool // applies to sale and authorisation, else to reversal
	outcome   string
	message   string
	noCard    bool          // the customer never presents a card (auto-tap is off)
	latency   time.Duration // how long the acquirer takes to answer
	described string        // for docs/simulator.md, which copies this table
}

// magicAmounts is the one place the test amounts are defined, keyed by the
// exact amount string of the command. Any other amount approves.
var magicAmounts = map[string]magic{
	"1.05": {payments: true, outcome: termproto.OutcomeDeclined, message: "Declined by issuer (magic amount 1.05)", described: "sale/authorisation declined by the acquirer"},
	"1.06": {payments: true, outcome: termproto.OutcomeFailed, message: "Acquirer error (magic amount 1.06)", described: "acquirer error: outcome failed"},
	"1.07": {payments: true, noCard: true, outcome: termproto.OutcomeApproved, described: "the customer never presents a card: waits for abort or timeout (auto-tap off; a manual tap still works)"},
	"1.08": {payments: true, outcome: termproto.OutcomeApproved, latency: 3 * time.Second, described: "slow acquirer: authorisation takes 3 s, then approved"},
	"1.09": {outcome: termproto.OutcomeDeclined, message: "Reversal declined by acquirer (magic amount 1.09)", described: "reversal declined"},
	"1.10": {outcome: termproto.OutcomeFailed, message: "Acquirer timeout (magic amount 1.10)", described: "reversal failed (acquirer timeout)"},
}

func behaviour(kind, amount string) magic {
	m, ok := magicAmounts[amount]
	if ok && m.payments == (kind != termproto.KindReversal) {
		return m
	}
	return magic{outcome: termproto.OutcomeApproved}
}

// acquirerReference is what the simulated acquirer returns for an approval.
func acquirerReference() string {
	return fmt.Sprintf("SIM%010d%010d", rand.N(uint64(1e10)), rand.N(uint64(1e10)))
}
