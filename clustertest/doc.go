// Package clustertest drives a cluster of real `posgate serve` processes
// (the binary, built once) on one PostgreSQL schema and an embedded NATS
// server the tests stop and restart. Simulated terminals speak real
// WebSockets and are given every node, home first, as `posgate terminal
// --server URL1,URL2,URL3` is; merchants call through a small TCP load
// balancer that skips nodes whose /readyz is not 200, as HAProxy with a
// health check does.
//
// It holds the cluster's end-to-end tests (issue 15: every method across
// nodes, concurrent reversals over nodes, kill -9 at several moments of a
// command, a rolling restart under load, NATS restarts and outages) and its
// measurements (routed against local reversal latency, a kill -9 of a node
// holding thousands of terminals, cycles a second with 1, 2 and 3 nodes),
// which run only when asked (-bench, or the -clustertest.* flags). The
// tests skip without POSGATE_TEST_POSTGRES, except in CI, where they fail.
package clustertest
