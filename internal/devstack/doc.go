// Package devstack runs the embedded brokers of `fleetstream dev`.
package devstack
