package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/fleetstream/fleetstream/codecs"
)

// VehicleStore is the vehicle state behind /api/vehicles, typically goka views of the
// vehicle-state and trip-state tables.
type VehicleStore interface {
	// Vehicle returns the joined state of one vehicle as a JSON-able value; ok is false for a
	// VIN the store does not know.
	Vehicle(ctx context.Context, vin string) (state any, ok bool, err error)
	// VINs returns up to limit known VINs.
	VINs(ctx context.Context, limit int) ([]string, error)
}

// ErrUnavailable is for a VehicleStore to wrap when it cannot answer yet or for now, e.g.
// while its tables recover. The API answers 503 with Retry-After instead of 500.
var ErrUnavailable = errors.New("vehicle state unavailable")

// Limits of GET /api/vehicles?limit=.
const (
	DefaultVINLimit = 1000
	MaxVINLimit     = 10000
)

// ValidVIN reports whether vin can be a vehicle key; it is codecs.ValidVIN, the rule applied
// to incoming records, so every VIN the topology stores passes.
func ValidVIN(vin string) bool { return codecs.ValidVIN(vin) }

// errorBody is the JSON of every error answer of /api/.
type errorBody struct {
	Error string `json:"error"`
	VIN   string `json:"vin,omitempty"`
}

func (s *Server) vehicle(w http.ResponseWriter, r *http.Request) {
	vin := r.PathValue("vin")
	if !ValidVIN(vin) {
		s.writeJSON(w, http.StatusBadRequest, errorBody{
			Error: fmt.Sprintf("invalid VIN: want 1 to %d letters, digits, '-' or '_'", codecs.MaxVINLen),
			VIN:   vin,
		})
		return
	}
	state, ok, err := s.opts.Vehicles.Vehicle(r.Context(), vin)
	if err != nil {
		s.storeError(w, r, err, "read vehicle "+vin)
		return
	}
	if !ok {
		s.writeJSON(w, http.StatusNotFound, errorBody{Error: "vehicle not found", VIN: vin})
		return
	}
	s.writeJSON(w, http.StatusOK, state)
}

func (s *Server) listVehicles(w http.ResponseWriter, r *http.Request) {
	limit := DefaultVINLimit
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > MaxVINLimit {
			s.writeJSON(w, http.StatusBadRequest, errorBody{
				Error: fmt.Sprintf("invalid limit %q: want a number from 1 to %d", q, MaxVINLimit),
			})
			return
		}
		limit = n
	}
	vins, err := s.opts.Vehicles.VINs(r.Context(), limit)
	if err != nil {
		s.storeError(w, r, err, "list VINs")
		return
	}
	if len(vins) > limit {
		vins = vins[:limit]
	}
	vins = slices.Clone(vins) // sort a copy: the slice belongs to the store
	slices.Sort(vins)
	if vins == nil {
		vins = []string{} // [] rather than null
	}
	s.writeJSON(w, http.StatusOK, vins)
}

// storeError answers a failed store call: 503 for ErrUnavailable, nothing when the client has
// gone, 500 otherwise. Details go to the log, not to the client.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error, what string) {
	switch {
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
	case r.Context().Err() != nil:
		s.log.Debug("http client gone", "path", r.URL.Path, "error", err)
	default:
		s.log.Error("http api: "+what, "error", err)
		s.writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error reading vehicle state"})
	}
}

// writeJSON encodes v fully before writing, so that an encoding failure becomes a 500 rather
// than a truncated 200.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.log.Error("http api: encode response", "error", err)
		buf.Reset()
		status = http.StatusInternalServerError
		_ = json.NewEncoder(&buf).Encode(errorBody{Error: "internal error encoding vehicle state"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // nothing to do about a client that went away
}
