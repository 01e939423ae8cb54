-- Refunds of paid orders. The amount bound lives on the order (its CHECK
-- on refunded_amount), which every refund updates in the same transaction.
CREATE TABLE refunds (
	refund_id    TEXT NOT NULL PRIMARY KEY,
	trade_id     TEXT NOT NULL REFERENCES orders (trade_id),
	merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
	user         TEXT NOT NULL,
	m_refund_id  TEXT NOT NULL,
	amount       INTEGER NOT NULL,
	currency     TEXT NOT NULL,
	description  TEXT NOT NULL,
	notify_url   TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	state        TEXT NOT NULL,
	acquirer_ref TEXT NOT NULL,
	message      TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	refunded_at  INTEGER,
	version      INTEGER NOT NULL
) STRICT;

-- The merchant's own refund number is unique per merchant when given.
CREATE UNIQUE INDEX refunds_merchant_ref ON refunds (merchant_id, m_refund_id)
	WHERE m_refund_id <> '';
CREATE INDEX refunds_trade ON refunds (trade_id, created_at);

-- Existing cashiers keep posgate's default.
ALTER TABLE cashiers ADD COLUMN refund_authority TEXT NOT NULL DEFAULT 'immediate';
