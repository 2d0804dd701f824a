package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/fleetstream/fleetstream/internal/httpapi"
)

// vehicles is a VehicleStore with one vehicle.
type vehicles struct{}

func (vehicles) Vehicle(_ context.Context, vin string) (any, bool, error) {
	if vin != "1FTFW1E50PFA00001" {
		return nil, false, nil
	}
	return map[string]any{"vin": vin, "signals": map[string]any{"ignition_status": "run"}}, true, nil
}

func (vehicles) VINs(context.Context, int) ([]string, error) {
	return []string{"1FTFW1E50PFA00001"}, nil
}

func Example() {
	srv := httpapi.New(httpapi.Options{Vehicles: vehicles{}})
	web := httptest.NewServer(srv.Handler()) // a command calls srv.Run(ctx) instead
	defer web.Close()

	for _, path := range []string{"/healthz", "/api/vehicles", "/api/vehicles/1FTFW1E50PFA00001", "/api/vehicles/NOSUCHVIN"} {
		resp, err := web.Client().Get(web.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d %s\n", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	// Output:
	// /healthz 200 ok
	// /api/vehicles 200 ["1FTFW1E50PFA00001"]
	// /api/vehicles/1FTFW1E50PFA00001 200 {"signals":{"ignition_status":"run"},"vin":"1FTFW1E50PFA00001"}
	// /api/vehicles/NOSUCHVIN 404 {"error":"vehicle not found","vin":"NOSUCHVIN"}
}
