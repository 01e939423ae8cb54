-- Times are INTEGER Unix microseconds in UTC. Strings are NOT NULL with ''
-- for "none", so only times are ever NULL. State literals in the partial
-- indexes must match the posgate constants' values.

CREATE TABLE merchants (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;

-- One namespace for everyone who signs requests: a TID can never be a
-- cashier's UID.
CREATE TABLE principals (
	user          TEXT NOT NULL PRIMARY KEY,
	kind          TEXT NOT NULL,
	merchant_id   INTEGER NOT NULL REFERENCES merchants (id),
	sealed_secret BLOB NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE terminals (
	tid            TEXT NOT NULL PRIMARY KEY REFERENCES principals (user),
	merchant_id    INTEGER NOT NULL REFERENCES merchants (id),
	timezone       TEXT NOT NULL,
	currency       TEXT NOT NULL,
	cutoff_minutes INTEGER NOT NULL,
	created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE cashiers (
	uid         TEXT NOT NULL PRIMARY KEY REFERENCES principals (user),
	merchant_id INTEGER NOT NULL REFERENCES merchants (id),
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE requests (
	user        TEXT NOT NULL REFERENCES principals (user),
	request_id  TEXT NOT NULL,
	method      TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	trade_id    TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (user, request_id)
) STRICT;

CREATE TABLE orders (
	trade_id        TEXT NOT NULL PRIMARY KEY,
	merchant_id     INTEGER NOT NULL REFERENCES merchants (id),
	tid             TEXT NOT NULL,
	user            TEXT NOT NULL,
	order_id        TEXT NOT NULL,
	operation       INTEGER NOT NULL,
	amount          INTEGER NOT NULL,
	tip_amount      INTEGER NOT NULL,
	currency        TEXT NOT NULL,
	description     TEXT NOT NULL,
	demo            TEXT NOT NULL,
	notify_url      TEXT NOT NULL,
	pay_method      TEXT NOT NULL,
	sub_pay_method  TEXT NOT NULL,
	state           TEXT NOT NULL,
	transaction_id  TEXT NOT NULL,
	refunded_amount INTEGER NOT NULL,
	refund_count    INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	paid_at         INTEGER,
	business_date   TEXT NOT NULL,
	cleared_at      INTEGER,
	expires_at      INTEGER NOT NULL,
	version         INTEGER NOT NULL,
	-- The schema's only CHECK: interpretError reads any CHECK violation as
	-- ErrRefundNotAllowed.
	CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
) STRICT;

CREATE INDEX orders_state_expires ON orders (state, expires_at);
CREATE INDEX orders_tid_business_date ON orders (tid, business_date);

CREATE TABLE reversals (
	id          TEXT NOT NULL PRIMARY KEY,
	trade_id    TEXT NOT NULL REFERENCES orders (trade_id),
	tid         TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	command_id  TEXT NOT NULL,
	state       TEXT NOT NULL,
	reason      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	finished_at INTEGER
) STRICT;

-- At most one reversal in flight or approved per order; declined ones may
-- pile up.
CREATE UNIQUE INDEX reversals_one_active ON reversals (trade_id)
	WHERE state IN ('in_flight', 'approved');
CREATE INDEX reversals_command ON reversals (command_id);

CREATE TABLE commands (
	id             TEXT NOT NULL PRIMARY KEY,
	tid            TEXT NOT NULL REFERENCES terminals (tid),
	kind           TEXT NOT NULL,
	trade_id       TEXT NOT NULL REFERENCES orders (trade_id),
	state          TEXT NOT NULL,
	created_at     INTEGER NOT NULL,
	outcome        TEXT NOT NULL,
	transaction_id TEXT NOT NULL,
	message        TEXT NOT NULL,
	finished_at    INTEGER
) STRICT;

-- At most one command in flight per terminal.
CREATE UNIQUE INDEX commands_one_in_flight ON commands (tid)
	WHERE state = 'in_flight';
CREATE INDEX commands_trade ON commands (trade_id, kind, created_at);

-- id keeps the terminal's reporting order among events with equal times.
CREATE TABLE command_events (
	id         INTEGER PRIMARY KEY,
	command_id TEXT NOT NULL REFERENCES commands (id),
	stage      TEXT NOT NULL,
	message    TEXT NOT NULL,
	at         INTEGER NOT NULL
) STRICT;

CREATE INDEX command_events_command ON command_events (command_id, at);

CREATE TABLE terminal_nonces (
	tid        TEXT NOT NULL REFERENCES terminals (tid),
	nonce      TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (tid, nonce)
) STRICT;

CREATE TABLE notifications (
	id           TEXT NOT NULL PRIMARY KEY,
	merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
	user         TEXT NOT NULL,
	trade_id     TEXT NOT NULL,
	notify_url   TEXT NOT NULL,
	payload      TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	attempts     INTEGER NOT NULL,
	delivered_at INTEGER,
	last_error   TEXT NOT NULL,
	next_attempt INTEGER NOT NULL
) STRICT;
