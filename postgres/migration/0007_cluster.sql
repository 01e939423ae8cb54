-- Cluster presence (docs/cluster.md): which gateway node holds each
-- terminal's connection, and each node's liveness. A terminal is online
-- when its row names a node whose heartbeat is fresh, so a node that dies
-- takes its terminals offline in one step, without a write per terminal.
-- Only gateways started with --cluster-nats use these tables.
CREATE TABLE nodes (
	node_id      text NOT NULL PRIMARY KEY,
	heartbeat_at timestamptz NOT NULL
);

CREATE TABLE terminal_presence (
	tid          text NOT NULL PRIMARY KEY,
	node_id      text NOT NULL,
	connected_at timestamptz NOT NULL
);

CREATE INDEX terminal_presence_node ON terminal_presence (node_id);
