-- The notifications table is the outbox itself: a notification is due
-- while it is not delivered and has a next attempt (zero once its schedule
-- is spent), and the gateway's dispatcher finds the due ones by this index
-- (after a restart, a retry's time, a replay from another process).
-- attempts_before is the attempts made before the current schedule began
-- (an operator's replay starts the retry schedule again).
ALTER TABLE notifications ADD COLUMN attempts_before INTEGER NOT NULL DEFAULT 0;
CREATE INDEX notifications_due ON notifications (next_attempt) WHERE delivered_at IS NULL;
