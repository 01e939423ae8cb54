-- The operator's reads: an order's history by trade_id (its timeline), the
-- orders newest first with the console's filters, and the refunds waiting
-- for approval.
CREATE INDEX requests_trade ON requests (trade_id, created_at);
CREATE INDEX reversals_trade ON reversals (trade_id, created_at);
CREATE INDEX notifications_trade ON notifications (trade_id, created_at);
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_tid_created ON orders (tid, created_at);
CREATE INDEX orders_order_id ON orders (order_id);
CREATE INDEX refunds_state ON refunds (state, created_at);
