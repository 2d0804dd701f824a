// Package fleet assembles fleetstream: it turns one validated Config into the running set of
// processor groups, sinks, views and the HTTP surface, supervised and shut down together. The
// commands in cmd/fleetstream only parse flags into a Config and call Run or Dev.
package fleet
