-- Refund notifications name their refund; the operator list reads newest
-- first, and its --failed view only the undelivered rows that failed.
ALTER TABLE notifications ADD COLUMN refund_id TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX notifications_failed ON notifications (created_at)
	WHERE delivered_at IS NULL AND attempts > 0;
