-- Captures of pre-authorisations (docs/captures.md). One capture per order
-- that is not failed: a failed capture moved nothing and may be retried,
-- one in processing, captured or in error has moved or may have moved the
-- money.
CREATE TABLE captures (
	capture_id        text NOT NULL PRIMARY KEY,
	trade_id          text NOT NULL REFERENCES orders (trade_id),
	merchant_id       bigint NOT NULL REFERENCES merchants (id),
	"user"            text NOT NULL,
	request_id        text NOT NULL,
	amount            bigint NOT NULL,
	authorised_amount bigint NOT NULL,
	currency          text NOT NULL,
	description       text NOT NULL,
	notify_url        text NOT NULL,
	state             text NOT NULL,
	acquirer_ref      text NOT NULL,
	message           text NOT NULL,
	created_at        timestamptz NOT NULL,
	finished_at       timestamptz,
	CONSTRAINT captures_amount CHECK (amount > 0 AND amount <= authorised_amount)
);

CREATE UNIQUE INDEX captures_one_per_order ON captures (trade_id)
	WHERE state IN ('processing', 'captured', 'error');

-- The expiry sweep reads authorized orders by approval time.
CREATE INDEX orders_authorized_paid ON orders (paid_at) WHERE state = 'authorized';

-- Scheduled jobs: next_run is compared and set, so that one process of a
-- cluster runs each turn.
CREATE TABLE jobs (
	name     text NOT NULL PRIMARY KEY,
	next_run timestamptz NOT NULL
);

-- Exports (v3.TimePayOrder, v3.TimeRefundOrder) page through a merchant's
-- successful payments by paid time and its refunds by refund time.
CREATE INDEX orders_merchant_paid ON orders (merchant_id, paid_at, trade_id) WHERE state = 'paid';
CREATE INDEX refunds_merchant_refunded ON refunds (merchant_id, refunded_at, refund_id) WHERE state = 'refunded';
