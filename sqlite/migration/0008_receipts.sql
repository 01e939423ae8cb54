-- Receipt data of a terminal's result (docs/terminal-protocol.md, "Receipt
-- data"): on the command, as the terminal reported it, and on the order its
-- approval paid. Never a full card number: the terminal link refuses one,
-- and the masked PAN may hold no more than 6 digits in a row.
ALTER TABLE commands ADD COLUMN card_brand TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN card_masked_pan TEXT NOT NULL DEFAULT ''
	CHECK (length(card_masked_pan) <= 19 AND card_masked_pan NOT GLOB '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9]*');
ALTER TABLE commands ADD COLUMN card_entry_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN card_auth_code TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN card_aid TEXT NOT NULL DEFAULT '';

ALTER TABLE orders ADD COLUMN card_brand TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN card_masked_pan TEXT NOT NULL DEFAULT ''
	CHECK (length(card_masked_pan) <= 19 AND card_masked_pan NOT GLOB '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9]*');
ALTER TABLE orders ADD COLUMN card_entry_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN card_auth_code TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN card_aid TEXT NOT NULL DEFAULT '';
