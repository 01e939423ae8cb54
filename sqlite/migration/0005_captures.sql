-- Captures of pre-authorisations (docs/captures.md). One capture per order
-- that is not failed: a failed capture moved nothing and may be retried,
-- one in processing, captured or in error has moved or may have moved the
-- money.
CREATE TABLE captures (
	capture_id        TEXT NOT NULL PRIMARY KEY,
	trade_id          TEXT NOT NULL REFERENCES orders (trade_id),
	merchant_id       INTEGER NOT NULL REFERENCES merchants (id),
	user              TEXT NOT NULL,
	request_id        TEXT NOT NULL,
	amount            INTEGER NOT NULL,
	authorised_amount INTEGER NOT NULL,
	currency          TEXT NOT NULL,
	description       TEXT NOT NULL,
	notify_url        TEXT NOT NULL,
	state             TEXT NOT NULL,
	acquirer_ref      TEXT NOT NULL,
	message           TEXT NOT NULL,
	created_at        INTEGER NOT NULL,
	finished_at       INTEGER,
	CONSTRAINT captures_amount CHECK (amount > 0 AND amount <= authorised_amount)
) STRICT;

CREATE UNIQUE INDEX captures_one_per_order ON captures (trade_id)
	WHERE state IN ('processing', 'captured', 'error');

-- The expiry sweep reads authorized orders by approval time.
CREATE INDEX orders_authorized_paid ON orders (paid_at) WHERE state = 'authorized';

-- Scheduled jobs: next_run is compared and set, so that one process of a
-- cluster runs each turn.
CREATE TABLE jobs (
	name     TEXT NOT NULL PRIMARY KEY,
	next_run INTEGER NOT NULL
) STRICT;

-- Exports (v3.TimePayOrder, v3.TimeRefundOrder) page through a merchant's
-- successful payments by paid time and its refunds by refund time.
CREATE INDEX orders_merchant_paid ON orders (merchant_id, paid_at, trade_id) WHERE state = 'paid';
CREATE INDEX refunds_merchant_refunded ON refunds (merchant_id, refunded_at, refund_id) WHERE state = 'refunded';
