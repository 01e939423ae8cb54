// Package e2e holds posgate's end-to-end tests: a real gateway on a
// loopback port with a real SQLite database, real simulated terminals on
// real WebSockets, and merchants calling the signed HTTP API.
package e2e
