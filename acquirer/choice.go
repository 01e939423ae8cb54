package acquirer

import (
	"fmt"
	"strings"
)

// SimulatedName is how an operator chooses the simulated acquirer, and
// what every refund answer and notification made through it says in its
// acquirer field, so test money is never taken for real money.
const SimulatedName = "simulated"

// Names are the acquirers an operator can choose. A real connector adds
// its name here.
func Names() []string { return []string{SimulatedName} }

// ByName is the acquirer an operator chose. There is no default: a
// gateway that refunded through the simulator without being told to would
// answer "refunded" while no money moved.
func ByName(name string) (Acquirer, error) {
	switch name {
	case SimulatedName:
		return Simulated{}, nil
	case "":
		return nil, fmt.Errorf("no acquirer chosen: --acquirer (or POSGATE_ACQUIRER) must be one of %s", strings.Join(Names(), ", "))
	}
	return nil, fmt.Errorf("--acquirer %q (or POSGATE_ACQUIRER): no such acquirer; want one of %s", name, strings.Join(Names(), ", "))
}

// IsSimulated says whether a moves no money.
func IsSimulated(a Acquirer) bool {
	_, ok := a.(Simulated)
	return ok
}
