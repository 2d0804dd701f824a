package fleet

import (
	"context"
	"fmt"

	"github.com/fleetstream/fleetstream/codecs"
)

// vehicleStore answers the HTTP API from goka views of the vehicle-state and trip-state
// tables, which cover every partition whichever worker owns it.
type vehicleStore struct {
	vehicles *viewRef
	trips    *viewRef
}

// Vehicle is the joined state of one vehicle as the HTTP API shows it.
type Vehicle struct {
	VIN     string               `json:"vin"`
	Vehicle *codecs.VehicleState `json:"vehicle,omitempty"`
	Trip    *codecs.TripState    `json:"trip,omitempty"`
	// Signals flattens the last value of each signal for quick reading (e.g. ignition_status).
	Signals map[string]any `json:"signals,omitempty"`
}

func (s vehicleStore) Vehicle(_ context.Context, vin string) (any, bool, error) {
	v, err := s.vehicles.Get(vin)
	if err != nil {
		return nil, false, fmt.Errorf("read vehicle-state of %s: %w", vin, err)
	}
	t, err := s.trips.Get(vin)
	if err != nil {
		return nil, false, fmt.Errorf("read trip-state of %s: %w", vin, err)
	}
	out := Vehicle{VIN: vin}
	if vs, ok := v.(*codecs.VehicleState); ok && vs != nil {
		out.Vehicle = vs
		out.Signals = make(map[string]any, len(vs.Signals))
		for name, sig := range vs.Signals {
			out.Signals[name] = sig.Value
		}
	}
	if ts, ok := t.(*codecs.TripState); ok && ts != nil {
		out.Trip = ts
	}
	if out.Vehicle == nil && out.Trip == nil {
		return nil, false, nil
	}
	return out, true, nil
}

func (s vehicleStore) VINs(ctx context.Context, limit int) ([]string, error) {
	seen := map[string]bool{}
	var vins []string
	for _, view := range []*viewRef{s.vehicles, s.trips} {
		it, err := view.Iterator()
		if err != nil {
			return nil, fmt.Errorf("iterate %s: %w", view.Topic(), err)
		}
		for it.Next() && len(vins) < limit {
			if ctx.Err() != nil {
				it.Release()
				return nil, ctx.Err()
			}
			if k := it.Key(); !seen[k] {
				seen[k] = true
				vins = append(vins, k)
			}
		}
		it.Release()
	}
	return vins, nil
}
