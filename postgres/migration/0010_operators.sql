-- The PostgreSQL twin of sqlite/migration/0010_operators.sql: operators
-- with the SHA-256 of their secret, and the audit of their actions.
CREATE TABLE operators (
	name          text NOT NULL PRIMARY KEY,
	secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
	created_at    timestamptz NOT NULL
);

CREATE TABLE operator_actions (
	seq        bigint GENERATED ALWAYS AS IDENTITY,
	id         text NOT NULL PRIMARY KEY,
	at         timestamptz NOT NULL,
	operator   text NOT NULL,
	action     text NOT NULL,
	trade_id   text NOT NULL,
	subject    text NOT NULL,
	detail     text NOT NULL
);
CREATE INDEX operator_actions_trade ON operator_actions (trade_id, at, seq);
