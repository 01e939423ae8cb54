package sqlstmt

import "testing"

func TestDescribe(t *testing.T) {
	for q, want := range map[string]string{
		"INSERT INTO commands (id) VALUES (?)":                                                                                     "insert into commands",
		"UPDATE orders SET state = $1 WHERE trade_id = $2":                                                                         "update orders",
		"DELETE FROM terminal_nonces WHERE expires_at < ?":                                                                         "delete from terminal_nonces",
		"SELECT id, name FROM\n\tmerchants WHERE id = ?":                                                                           "select from merchants",
		`SELECT EXISTS (SELECT 1 FROM "refunds" WHERE id = $1)`:                                                                    "select from refunds",
		"WITH u AS (UPDATE orders SET v = 1 RETURNING 1) SELECT f() WHERE NOT EXISTS (SELECT 1 FROM u)":                            "with update orders",
		"WITH w0 AS (INSERT INTO requests (a) VALUES ($1)), w1 AS (INSERT INTO reversals (a) VALUES ($2)) SELECT NULL WHERE false": "with insert into requests, insert into reversals",
		"SELECT 1":        "select from ?",
		"PRAGMA optimize": "pragma",
		"":                "empty statement",
	} {
		if got := Describe(q); got != want {
			t.Errorf("Describe(%q) = %q, want %q", q, got, want)
		}
	}
}
