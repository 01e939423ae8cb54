package posgate

import (
	"fmt"
	"regexp"
	"time"
)

// Operator is a person who runs the gateway: the console and the operator
// API know them by name and a secret of which only the SHA-256 is stored.
// The secret is 24 random bytes, so a fast hash suffices: there is no
// password to guess from it.
type Operator struct {
	Name         string
	SecretSHA256 []byte
	CreatedAt    time.Time
}

// AdminOperator is the name the admin token acts under: the break-glass
// operator that needs no row.
const AdminOperator = "admin"

var operatorName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// CheckOperatorName refuses a name that is not 1 to 32 lower-case
// letters, digits, '_' and '-' (starting with a letter or digit), and the
// admin token's own name. A name never holds ':' or '.', which separate it
// from the secret in a bearer credential and from the rest of a session
// cookie.
func CheckOperatorName(name string) error {
	if !operatorName.MatchString(name) {
		return Refuse(ErrInvalid, fmt.Sprintf("operator name %q: want 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or digit", name))
	}
	if name == AdminOperator {
		return Refuse(ErrInvalid, fmt.Sprintf("operator name %q is the admin token's", name))
	}
	return nil
}

// Action is what an operator did.
type Action string

const (
	ActionRefundApprove      Action = "refund_approve"
	ActionRefundReject       Action = "refund_reject"
	ActionNotificationReplay Action = "notification_replay"
)

// OperatorAction is the audit record of a state-changing action, written
// in the transaction of the change it made: who, when, what, and on which
// order.
type OperatorAction struct {
	ID       string
	At       time.Time
	Operator string
	Action   Action
	TradeID  string
	// Subject is what the action was on: a refund id, a notification id.
	Subject string
	// Detail says more, for people (the reason of a rejection).
	Detail string
}
