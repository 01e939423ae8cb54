-- Refunds of paid orders. The order's refunded_amount and refund_count
-- are kept by the caller in the same transaction; the orders CHECK keeps
-- the sum within the amount.
CREATE TABLE refunds (
	refund_id    text NOT NULL PRIMARY KEY,
	seq          bigint GENERATED ALWAYS AS IDENTITY,
	trade_id     text NOT NULL REFERENCES orders (trade_id),
	merchant_id  bigint NOT NULL REFERENCES merchants (id),
	"user"       text NOT NULL,
	m_refund_id  text NOT NULL,
	amount       bigint NOT NULL,
	currency     text NOT NULL,
	description  text NOT NULL,
	notify_url   text NOT NULL,
	request_id   text NOT NULL,
	state        text NOT NULL,
	acquirer_ref text NOT NULL,
	message      text NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	refunded_at  timestamptz,
	version      bigint NOT NULL
);

-- The merchant's own reference is unique per merchant when it is set.
CREATE UNIQUE INDEX refunds_merchant_ref ON refunds (merchant_id, m_refund_id)
	WHERE m_refund_id <> '';
CREATE INDEX refunds_trade ON refunds (trade_id, created_at);

-- Existing cashiers keep posgate's default.
ALTER TABLE cashiers ADD COLUMN refund_authority text NOT NULL DEFAULT 'immediate';
