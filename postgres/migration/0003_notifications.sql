-- Refund notifications name their refund; listing is newest first, and
-- the failed list is those not delivered that have been tried.
ALTER TABLE notifications ADD COLUMN refund_id text NOT NULL DEFAULT '';
CREATE INDEX notifications_newest ON notifications (created_at DESC, seq DESC);
CREATE INDEX notifications_failed ON notifications (created_at DESC, seq DESC)
	WHERE delivered_at IS NULL AND attempts > 0;
