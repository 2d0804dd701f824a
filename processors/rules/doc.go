// Package rules holds the anomaly rules the vehicle-state group evaluates, and their
// evaluation, kept free of goka so it can be tested as plain functions.
//
// A Set has threshold rules (a signal above or below a value) and an optional outlier rule (an
// exponentially weighted z-score above a limit, once enough samples were seen). Evaluate
// compares a signal's new value with a vehicle's state and returns the anomalies that open or
// clear; an anomaly stays open until the value crosses back past the threshold by the rule's
// hysteresis, so a value hovering around a threshold does not flap.
//
// Sets come from Default or from YAML (Parse, Load):
//
//	thresholds:
//	  - name: overspeed          # unique; the rule label of fleetstream_anomalies_total
//	    signal: vehicle_speed    # canonical signal name (snake_case)
//	    op: above                # above or below
//	    threshold: 180           # in the signal's unit (km/h here)
//	    severity: warning        # info, warning or critical (default warning)
//	    hysteresis: 5            # optional: clears at or below 175
//	outlier:                     # optional; omit to disable
//	  signals: [vehicle_speed, engine_speed, oil_temp]
//	  z_score: 4                 # default 4
//	  min_samples: 30            # default 30
//	  alpha: 0.05                # EWMA weight of the newest sample, default 0.05
//	  severity: info             # default info
//	  hysteresis: 1              # optional, in standard deviations
//
// A file replaces the defaults rather than adding to them; testdata/default.yaml is Default
// written out, a starting point to copy.
package rules
