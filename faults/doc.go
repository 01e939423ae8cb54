// Package faults holds posgate's fault suite (its tests): the real binary
// and real simulated terminals driven through kills, crashes, dropped links
// and outages, with every outcome checked afterwards against the terminal's
// journal and the database; and a model-based test of the order state
// machine against the store. docs/reliability.md says how to run it.
package faults
