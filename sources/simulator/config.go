package simulator

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
	"github.com/prometheus/client_golang/prometheus"
)

// Format is the telemetry shape vehicles send.
type Format string

const (
	// FormatV2 is the AWS IoT Device Simulator v2 automotive shape: one message per signal,
	// snake_case names, location as its own message.
	FormatV2 Format = "v2"
	// FormatV3 is the AWS IoT Device Simulator v3 shape: one camelCase object per tick.
	FormatV3 Format = "v3"
)

// VINPlaceholder stands for the vehicle's VIN in topic templates.
const VINPlaceholder = "{vin}"

// Topics are the templates of the topics vehicles publish to; VINPlaceholder is replaced by the
// VIN. The Publisher receives the resulting topic and the VIN as key.
type Topics struct {
	Telemetry string
	Trip      string
	DTC       string
}

// MQTTTopics are the connected-car MQTT topics: connectedcar/telemetry/<VIN>,
// connectedcar/trip/<VIN> and connectedcar/dtc/<VIN>.
func MQTTTopics() Topics {
	return Topics{
		Telemetry: "connectedcar/telemetry/" + VINPlaceholder,
		Trip:      "connectedcar/trip/" + VINPlaceholder,
		DTC:       "connectedcar/dtc/" + VINPlaceholder,
	}
}

// KafkaTopics are the deployment's input topics (telemetry, trips, diagnostics by default), for
// producing straight to Kafka keyed by VIN.
func KafkaTopics(t topology.Topics) Topics {
	return Topics{Telemetry: t.Telemetry, Trip: t.Trips, DTC: t.Diagnostics}
}

func (t Topics) validate() error {
	for _, f := range []struct{ name, value string }{{"Telemetry", t.Telemetry}, {"Trip", t.Trip}, {"DTC", t.DTC}} {
		if f.value == "" {
			return fmt.Errorf("simulator: Topics.%s is empty: set it, e.g. to %q (MQTT) or the Kafka topic name", f.name, MQTTTopics().Telemetry)
		}
	}
	return nil
}

func (t Topics) resolve(template, vin string) string {
	return strings.ReplaceAll(template, VINPlaceholder, vin)
}

// DefaultShadowTopic is the AWS IoT classic shadow topic vehicles take commands from and report
// their state to.
const DefaultShadowTopic = "$aws/things/" + VINPlaceholder + "/shadow/update"

// Config configures a simulated fleet. Zero fields take the defaults documented on each field;
// DefaultConfig returns a complete configuration for `fleetstream simulate`.
type Config struct {
	// Vehicles is the size of the fleet (at least 1).
	Vehicles int
	// Seed makes the fleet repeatable: the same seed gives the same VINs, trip ids and, in
	// paced mode, the same readings.
	Seed int64
	// Interval is the time between two telemetry ticks of one vehicle (default 2s). In rate
	// mode (Rate > 0) the token bucket paces the ticks instead; Interval still sets the pause
	// between two trips (one to five intervals).
	Interval time.Duration
	// DTCEvery is the mean time between two trouble codes of one vehicle while it drives; 0
	// sends none. Each code is sent at most once per trip.
	DTCEvery time.Duration
	// DTCCodes restricts the codes drawn; empty draws from codecs.KnownDTCCodes().
	DTCCodes []string
	// Format is the telemetry shape, FormatV2 (default) or FormatV3. Trips and DTCs have one
	// shape in both.
	Format Format
	// TripLength is the mean duration of a trip (default 20m); each trip lasts ±25% of it.
	TripLength time.Duration
	// AggregateEvery is the time between trip aggregates of a driving vehicle (default 90s, as
	// the v2 simulator); a trip's last aggregate comes at its end.
	AggregateEvery time.Duration
	// RepairAfter brings a car stopped by command back on the road after this long, as if it
	// had been repaired (0: it stays off until told "engine":"start"). `fleetstream dev` sets it
	// so the demo fleet keeps driving.
	RepairAfter time.Duration
	// Rate, when positive, turns paced mode into rate mode for load generation: vehicles tick as
	// fast as a token bucket of Rate messages per second (burst a tenth of that) lets them,
	// and each tick advances a vehicle by the time since its last one.
	Rate float64
	// Topics are the publish topics (default MQTTTopics()).
	Topics Topics
	// ShadowTopic is the template of the topic each vehicle takes commands from and reports
	// its shadow state to (default DefaultShadowTopic). Commands are only received through a
	// Publisher that is also a CommandSource.
	ShadowTopic string
	// Origin is the centre of the area vehicles start in (default Washington, DC).
	OriginLatitude, OriginLongitude float64
	// Now is the clock of timestamps (default time.Now).
	Now func() time.Time
	// Logger receives the simulator's log (default: discarded).
	Logger *slog.Logger
	// Registerer receives the simulator's metrics (nil registers nothing).
	Registerer prometheus.Registerer
}

// DefaultConfig is the configuration of `fleetstream simulate`: ten vehicles sending v2
// telemetry every two seconds over MQTT, a trouble code every ten minutes on average.
func DefaultConfig() Config {
	return Config{
		Vehicles:       10,
		Seed:           1,
		Interval:       2 * time.Second,
		DTCEvery:       10 * time.Minute,
		Format:         FormatV2,
		TripLength:     20 * time.Minute,
		AggregateEvery: 90 * time.Second,
		Topics:         MQTTTopics(),
		ShadowTopic:    DefaultShadowTopic,
	}
}

// withDefaults fills the zero fields that have a default. DTCEvery and Rate keep their zero
// meaning (no DTCs, paced mode).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Format == "" {
		c.Format = d.Format
	}
	if c.TripLength == 0 {
		c.TripLength = d.TripLength
	}
	if c.AggregateEvery == 0 {
		c.AggregateEvery = d.AggregateEvery
	}
	if c.Topics == (Topics{}) {
		c.Topics = d.Topics
	}
	if c.ShadowTopic == "" {
		c.ShadowTopic = d.ShadowTopic
	}
	if c.OriginLatitude == 0 && c.OriginLongitude == 0 {
		c.OriginLatitude, c.OriginLongitude = 38.9072, -77.0369
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work, naming the fix. Zero fields with a default
// are accepted.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Vehicles < 1:
		return fmt.Errorf("simulator: Vehicles is %d: simulate at least 1 vehicle (--vehicles)", c.Vehicles)
	case c.Vehicles > 1_000_000:
		return fmt.Errorf("simulator: Vehicles is %d: at most 1000000 per process; run several simulators", c.Vehicles)
	case c.Interval < time.Millisecond:
		return fmt.Errorf("simulator: Interval %s is too short: use at least 1ms (default 2s)", c.Interval)
	case c.DTCEvery < 0:
		return fmt.Errorf("simulator: DTCEvery %s is negative: use 0 for no trouble codes or a mean interval such as 10m", c.DTCEvery)
	case c.Format != FormatV2 && c.Format != FormatV3:
		return fmt.Errorf("simulator: Format %q is unknown: use %q or %q", c.Format, FormatV2, FormatV3)
	case c.TripLength < c.Interval:
		return fmt.Errorf("simulator: TripLength %s is shorter than Interval %s: make trips last several ticks", c.TripLength, c.Interval)
	case c.AggregateEvery < c.Interval:
		return fmt.Errorf("simulator: AggregateEvery %s is shorter than Interval %s: use at least one tick (default 90s)", c.AggregateEvery, c.Interval)
	case c.RepairAfter < 0:
		return fmt.Errorf("simulator: RepairAfter %s is negative: use 0 (stopped cars stay off) or a duration", c.RepairAfter)
	case c.Rate < 0:
		return fmt.Errorf("simulator: Rate %g is negative: use 0 for paced mode or messages per second", c.Rate)
	case c.OriginLatitude < -85 || c.OriginLatitude > 85 || c.OriginLongitude < -180 || c.OriginLongitude > 180:
		return fmt.Errorf("simulator: origin %g,%g is off the map: latitude within ±85, longitude within ±180", c.OriginLatitude, c.OriginLongitude)
	}
	for _, code := range c.DTCCodes {
		if !codecs.ValidDTCCode(strings.ToUpper(strings.TrimSpace(code))) {
			return fmt.Errorf("simulator: DTCCodes holds %q, not an OBD-II code: use P, C, B or U and four hex digits, e.g. P0420", code)
		}
	}
	if err := c.Topics.validate(); err != nil {
		return err
	}
	if strings.Count(c.ShadowTopic, VINPlaceholder) != 1 {
		return fmt.Errorf("simulator: ShadowTopic %q must hold %s exactly once, e.g. %s", c.ShadowTopic, VINPlaceholder, DefaultShadowTopic)
	}
	return nil
}

// dtcTable returns the codes vehicles draw from.
func (c Config) dtcTable() []string {
	if len(c.DTCCodes) == 0 {
		return codecs.KnownDTCCodes()
	}
	seen := map[string]bool{}
	var codes []string
	for _, code := range c.DTCCodes {
		code = strings.ToUpper(strings.TrimSpace(code))
		if !seen[code] {
			seen[code] = true
			codes = append(codes, code)
		}
	}
	return codes
}

var errNoPublisher = errors.New("simulator: no Publisher: pass an MQTTPublisher, a KafkaPublisher or your own")
