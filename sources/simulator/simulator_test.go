package simulator

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// recorder is a Publisher that keeps everything, by VIN.
type recorder struct {
	mu    sync.Mutex
	byVIN map[string][]recorded
	n     int
}

type recorded struct {
	topic   string
	payload []byte
}

func newRecorder() *recorder { return &recorder{byVIN: map[string][]recorded{}} }

func (r *recorder) Publish(_ context.Context, topic, key string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byVIN[key] = append(r.byVIN[key], recorded{topic, payload})
	r.n++
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func runFor(t *testing.T, s *Simulator, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s.Run(ctx); err != ErrAlreadyRunning {
		t.Errorf("second Run: %v, want ErrAlreadyRunning", err)
	}
}

func TestRunPaced(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	rec := newRecorder()
	cfg := Config{Vehicles: 20, Seed: 1, Interval: 20 * time.Millisecond, AggregateEvery: 60 * time.Millisecond,
		TripLength: time.Minute, DTCEvery: 100 * time.Millisecond, Registerer: reg}
	s, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	runFor(t, s, 600*time.Millisecond)

	st := s.Stats()
	// 20 vehicles, about 30 ticks each, 17 signals a tick; a loaded machine (or -race) skips
	// ticks, but never adds any.
	if st.Telemetry < 20*5*17 || st.Telemetry > 20*31*17 || st.Trips == 0 || st.DTCs == 0 {
		t.Errorf("published %+v in 600ms", st)
	}
	if int64(rec.count()) != st.Messages() {
		t.Errorf("publisher saw %d messages, Stats says %d", rec.count(), st.Messages())
	}
	for kind, want := range map[Kind]int64{KindTelemetry: st.Telemetry, KindTrip: st.Trips, KindDTC: st.DTCs} {
		if got := counterValue(t, s.messages.WithLabelValues(string(kind))); got != float64(want) {
			t.Errorf("fleetstream_simulator_messages_total{kind=%q} = %v, want %d", kind, got, want)
		}
	}
	if n := seriesCount(t, reg, "fleetstream_simulator_messages_total"); n != 3 {
		t.Errorf("registry holds %d series of fleetstream_simulator_messages_total, want 3", n)
	}
	// Every vehicle published, in order, on its own topics.
	for _, vin := range s.VINs() {
		msgs := rec.byVIN[vin]
		if len(msgs) < 17*5 {
			t.Fatalf("vehicle %s published %d messages", vin, len(msgs))
		}
		var last time.Time
		for _, m := range msgs {
			if m.topic != "connectedcar/telemetry/"+vin && m.topic != "connectedcar/trip/"+vin && m.topic != "connectedcar/dtc/"+vin {
				t.Fatalf("vehicle %s published on %s", vin, m.topic)
			}
			if m.topic == "connectedcar/telemetry/"+vin {
				sigs, err := codecs.DecodeTelemetry(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				if sigs[0].Time.Before(last) {
					t.Fatalf("vehicle %s: telemetry went back in time", vin)
				}
				last = sigs[0].Time
			}
		}
	}
	// A second simulator on the same registry shares the collectors.
	if _, err := New(cfg, rec); err != nil {
		t.Errorf("second New on one registry: %v", err)
	}
}

func TestRunAtRate(t *testing.T) {
	rec := newRecorder()
	const rate = 1500
	s, err := New(Config{Vehicles: 7, Seed: 2, Rate: rate, Format: FormatV3}, rec)
	if err != nil {
		t.Fatal(err)
	}
	runFor(t, s, time.Second)
	st := s.Stats()
	// Never above the rate (plus the burst of a tenth of a second); below only when the
	// machine cannot keep up.
	if got := st.Rate(); got < rate*0.7 || got > rate*1.1 {
		t.Errorf("achieved %.0f messages/s (%+v), want about %d", got, st, rate)
	}
	for _, vin := range s.VINs() {
		if len(rec.byVIN[vin]) < 50 {
			t.Errorf("vehicle %s published only %d messages: the bucket starves it", vin, len(rec.byVIN[vin]))
		}
	}
}

func TestCommandRouting(t *testing.T) {
	s, err := New(Config{Vehicles: 3, Seed: 4}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	vin := s.VINs()[1]
	s.onCommand("$aws/things/"+vin+"/shadow/update", []byte(`{"state":{"desired":{"engine":"stop"}},"clientToken":"t1"}`))
	if c := s.inbox[1].Load(); c == nil || c.engine != "stop" || c.clientToken != "t1" {
		t.Errorf("vehicle 1's inbox holds %+v", c)
	}
	for _, topic := range []string{"$aws/things/NOTAVIN/shadow/update", "$aws/things/" + vin + "/shadow/get", "other/" + vin} {
		s.inbox[1].Store(nil)
		s.onCommand(topic, []byte(`{"state":{"desired":{"engine":"stop"}}}`))
		if s.inbox[1].Load() != nil {
			t.Errorf("a command on %s reached the vehicle", topic)
		}
	}
	if s.Command(vin, []byte(`{"state":{"reported":{"engine":"stopped"}}}`)) {
		t.Error("a reported state was taken for a command")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func seriesCount(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}
