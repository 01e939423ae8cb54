-- Operators of the console and the operator API, each with the SHA-256 of
-- a random secret, and the audit of what they did: every state-changing
-- action, by order for its timeline. Actions keep the operator's name
-- without a key to operators: removing an operator keeps their history,
-- and the admin token's "admin" has no row.
CREATE TABLE operators (
	name          TEXT NOT NULL PRIMARY KEY,
	secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
	created_at    INTEGER NOT NULL
);

CREATE TABLE operator_actions (
	id         TEXT NOT NULL PRIMARY KEY,
	at         INTEGER NOT NULL,
	operator   TEXT NOT NULL,
	action     TEXT NOT NULL,
	trade_id   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	detail     TEXT NOT NULL
);
CREATE INDEX operator_actions_trade ON operator_actions (trade_id, at);
