package codecs

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite codecs/testdata/golden from the decoders' output")

// TestGolden decodes every shared fixture and compares the decoded form, as JSON, with
// testdata/golden/<fixture>.json. After a deliberate change: go test ./codecs -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			var decoded any
			var err error
			switch fixtureDecoder(name) {
			case "telemetry":
				decoded, err = DecodeTelemetry(fixture(t, name))
			case "trip":
				decoded, err = DecodeTrip(fixture(t, name))
			case "dtc":
				decoded, err = DecodeDTC(fixture(t, name))
			default:
				t.Fatalf("no decoder for fixture %s: name it telemetry-*, v3-*, trip-* or dtc*", name)
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := json.MarshalIndent(decoded, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".json")+".golden.json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded %s differs from %s (run with -update if the change is deliberate):\ngot\n%s\nwant\n%s", name, path, got, want)
			}
		})
	}
}
