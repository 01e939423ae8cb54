package postgres

import (
	"github.com/posgate/posgate"
)

func scanOperator(r row) (o posgate.Operator, err error) {
	return o, r.Scan(&o.Name, &o.SecretSHA256, &o.CreatedAt)
}

func (t *tx) InsertOperator(o posgate.Operator) error {
	_, err := t.exec(`INSERT INTO operators (name, secret_sha256, created_at) VALUES (`+placeholders(3)+`)`, o.Name, o.SecretSHA256, o.CreatedAt)
	return err
}

func (t *tx) Operator(name string) (posgate.Operator, error) {
	return one(t, scanOperator, `SELECT name, secret_sha256, created_at FROM operators WHERE name = $1`, name)
}

func (t *tx) Operators() ([]posgate.Operator, error) {
	return list(t, scanOperator, `SELECT name, secret_sha256, created_at FROM operators ORDER BY name`)
}

func (t *tx) DeleteOperator(name string) error {
	n, err := t.exec(`DELETE FROM operators WHERE name = $1`, name)
	if err == nil && n == 0 {
		err = posgate.ErrNotFound
	}
	return err
}

func (t *tx) InsertOperatorAction(a posgate.OperatorAction) error {
	_, err := t.exec(`INSERT INTO operator_actions (id, at, operator, action, trade_id, subject, detail) VALUES (`+placeholders(7)+`)`,
		a.ID, a.At, a.Operator, a.Action, a.TradeID, a.Subject, a.Detail)
	return err
}

func (t *tx) OperatorActionsForTrade(tradeID string) ([]posgate.OperatorAction, error) {
	return list(t, func(r row) (a posgate.OperatorAction, err error) {
		return a, r.Scan(&a.ID, &a.At, &a.Operator, &a.Action, &a.TradeID, &a.Subject, &a.Detail)
	}, `SELECT id, at, operator, action, trade_id, subject, detail FROM operator_actions WHERE trade_id = $1 ORDER BY at, seq`, tradeID)
}
