// Package httpapi is the HTTP surface of every long-running fleetstream command (dev, run, sink,
// bridge):
//
//	GET /healthz              200 "ok" while the process runs
//	GET /readyz               200 "ok" when Options.Ready returns nil, else 503 with its error text
//	GET /metrics              Prometheus exposition of Options.Gatherer
//	GET /api/vehicles/{vin}   200 joined vehicle and trip state as JSON; 404 {"error":...} for an
//	                          unknown VIN, 400 for an invalid one, 503 while the store is
//	                          unavailable (ErrUnavailable)
//	GET /api/vehicles         200 JSON array of known VINs, sorted; ?limit= from 1 to 10000,
//	                          default 1000
//
// The /api/vehicles routes exist when Options.Vehicles is set. Other methods on these paths get
// 405; HEAD works wherever GET does.
//
//	srv := httpapi.New(httpapi.Options{Addr: addr, Logger: log, Gatherer: reg, Ready: w.Ready, Vehicles: store})
//	if err := srv.Listen(); err != nil { ... } // optional: fail fast, then print srv.Addr()
//	g.Go(func() error { return srv.Run(ctx) })  // graceful, bounded shutdown when ctx is done
package httpapi
