-- Receipt data of a terminal's result (docs/terminal-protocol.md, "Receipt
-- data"): on the command, as the terminal reported it, and on the order its
-- approval paid. Never a full card number: the terminal link refuses one,
-- and the masked PAN may hold no more than 6 digits in a row.
ALTER TABLE commands
	ADD COLUMN card_brand text NOT NULL DEFAULT '',
	ADD COLUMN card_masked_pan text NOT NULL DEFAULT ''
		CONSTRAINT commands_card_masked_pan CHECK (length(card_masked_pan) <= 19 AND card_masked_pan !~ '[0-9]{7}'),
	ADD COLUMN card_entry_mode text NOT NULL DEFAULT '',
	ADD COLUMN card_auth_code text NOT NULL DEFAULT '',
	ADD COLUMN card_aid text NOT NULL DEFAULT '';

ALTER TABLE orders
	ADD COLUMN card_brand text NOT NULL DEFAULT '',
	ADD COLUMN card_masked_pan text NOT NULL DEFAULT ''
		CONSTRAINT orders_card_masked_pan CHECK (length(card_masked_pan) <= 19 AND card_masked_pan !~ '[0-9]{7}'),
	ADD COLUMN card_entry_mode text NOT NULL DEFAULT '',
	ADD COLUMN card_auth_code text NOT NULL DEFAULT '',
	ADD COLUMN card_aid text NOT NULL DEFAULT '';
