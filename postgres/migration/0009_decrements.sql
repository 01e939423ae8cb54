-- Decrements of pre-authorisations (v3.PreauthDecrement), one row each:
-- the reduction and the authorised amount before and after it. The order's
-- amount changes in the same transaction, compared and set on its version,
-- so concurrent decrements of one order form a chain; after_amount above
-- zero is the database's floor under the rules' currency minimum.
CREATE TABLE decrements (
	decrement_id  text NOT NULL PRIMARY KEY,
	trade_id      text NOT NULL REFERENCES orders (trade_id),
	merchant_id   bigint NOT NULL REFERENCES merchants (id),
	"user"        text NOT NULL,
	request_id    text NOT NULL,
	amount        bigint NOT NULL,
	before_amount bigint NOT NULL,
	after_amount  bigint NOT NULL,
	currency      text NOT NULL,
	description   text NOT NULL,
	notify_url    text NOT NULL,
	state         text NOT NULL,
	acquirer_ref  text NOT NULL,
	message       text NOT NULL,
	created_at    timestamptz NOT NULL,
	finished_at   timestamptz,
	CONSTRAINT decrements_amount CHECK (amount > 0 AND after_amount > 0 AND after_amount = before_amount - amount)
);

CREATE INDEX decrements_trade ON decrements (trade_id, created_at);
-- The recovery job finds decrements a crash left processing.
CREATE INDEX decrements_processing ON decrements (created_at) WHERE state = 'processing';

-- The order's timeline lists its captures, failed ones included.
CREATE INDEX captures_trade ON captures (trade_id, created_at);
