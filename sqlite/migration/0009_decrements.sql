-- Decrements of pre-authorisations (v3.PreauthDecrement), one row each:
-- the reduction and the authorised amount before and after it. The order's
-- amount changes in the same transaction, compared and set on its version,
-- so concurrent decrements of one order form a chain; after_amount above
-- zero is the database's floor under the rules' currency minimum.
CREATE TABLE decrements (
	decrement_id  TEXT NOT NULL PRIMARY KEY,
	trade_id      TEXT NOT NULL REFERENCES orders (trade_id),
	merchant_id   INTEGER NOT NULL REFERENCES merchants (id),
	user          TEXT NOT NULL,
	request_id    TEXT NOT NULL,
	amount        INTEGER NOT NULL,
	before_amount INTEGER NOT NULL,
	after_amount  INTEGER NOT NULL,
	currency      TEXT NOT NULL,
	description   TEXT NOT NULL,
	notify_url    TEXT NOT NULL,
	state         TEXT NOT NULL,
	acquirer_ref  TEXT NOT NULL,
	message       TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	finished_at   INTEGER,
	CONSTRAINT decrements_amount CHECK (amount > 0 AND after_amount > 0 AND after_amount = before_amount - amount)
) STRICT;

CREATE INDEX decrements_trade ON decrements (trade_id, created_at);
-- The recovery job finds decrements a crash left processing.
CREATE INDEX decrements_processing ON decrements (created_at) WHERE state = 'processing';

-- The order's timeline lists its captures, failed ones included.
CREATE INDEX captures_trade ON captures (trade_id, created_at);
