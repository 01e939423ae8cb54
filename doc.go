// Package posgate holds the gateway's domain: merchants, terminals,
// cashiers, orders, reversals, commands and the rules that decide what may
// happen to an order. It imports nothing from the rest of the module and
// does no I/O: the stores persist these types, the transports carry them,
// and the rules are plain functions tested without a server.
package posgate
