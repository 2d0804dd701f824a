// Package processors holds what fleetstream's processor groups share: the dead-letter envelope
// built from a goka context, the key check every vehicle input gets, severities, and the
// Prometheus metrics of the application.
//
// The groups themselves live in one package each: tripstate (trip-state), vehiclestate
// (vehicle-state) and dtcmonitor (dtc-monitor); rules holds the anomaly rules vehicle-state
// evaluates. Each group package exports its Group and Table names, a Config with DefaultConfig
// and Validate, and Define, which returns the goka group graph for topology to run.
//
// Every group follows the same error policy: vehicle input arrives as raw bytes (codecs.Raw),
// is decoded inside the callback by plain functions that return errors, and any error becomes
// a codecs.DeadLetter on the dead-letters topic. A callback never calls ctx.Fail and never
// panics on bad input, because goka stops the whole processor when it does.
package processors
