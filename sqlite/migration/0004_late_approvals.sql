-- Late approvals (docs/api.md): an order approved on its terminal after it
-- was settled as not paid keeps its state and records what became of the
-- approval; the gateway reverses it with a reversal of origin
-- late_approval, whose command waits queued until its terminal is free.
ALTER TABLE orders ADD COLUMN reconciliation TEXT NOT NULL DEFAULT '';
ALTER TABLE reversals ADD COLUMN origin TEXT NOT NULL DEFAULT 'api';
CREATE INDEX commands_queued ON commands (tid, created_at) WHERE state = 'queued';
