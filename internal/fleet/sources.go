package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fleetstream/fleetstream/internal/httpapi"
	"github.com/fleetstream/fleetstream/sources/mqttbridge"
	"github.com/fleetstream/fleetstream/sources/simulator"
	"github.com/fleetstream/fleetstream/topology"
)

// SimulateConfig is `fleetstream simulate`: the fleet simulator publishing over MQTT (obeying
// commands on the shadow topics) or straight to Kafka for load.
type SimulateConfig struct {
	Simulator simulator.Config
	// MQTTBroker is the broker URL in MQTT mode.
	MQTTBroker string
	// Kafka, when it names brokers, switches to Kafka mode (topics from Topics).
	Kafka    *topology.Kafka
	Topics   topology.Topics
	HTTPAddr string
	Logger   *slog.Logger
}

// Simulate runs the simulator until ctx is done.
func Simulate(ctx context.Context, c SimulateConfig) error {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := newRegistry()
	sc := c.Simulator
	sc.Logger, sc.Registerer = log, reg
	var pub simulator.Publisher
	if c.Kafka != nil {
		sc.Topics = simulator.KafkaTopics(c.Topics)
		if err := sc.Validate(); err != nil {
			return err
		}
		kp, err := simulator.NewKafkaPublisher(*c.Kafka, log)
		if err != nil {
			return err
		}
		defer func() {
			st := kp.Stats()
			_ = kp.Close()
			log.Info("kafka load finished", "acked", st.Acked, "failed", st.Failed, "acked_per_second", fmt.Sprintf("%.0f", kp.Stats().AckedRate()))
		}()
		pub = kp
	} else {
		if err := sc.Validate(); err != nil {
			return err
		}
		mp, err := simulator.DialMQTT(ctx, simulator.MQTTConfig{Broker: c.MQTTBroker, Logger: log})
		if err != nil {
			return err
		}
		defer mp.Close()
		pub = mp
	}
	sim, err := simulator.New(sc, pub)
	if err != nil {
		return err
	}
	return runWithHTTP(ctx, c.HTTPAddr, log, reg, sim.Run, nil)
}

// BridgeConfig is `fleetstream bridge`: MQTT into Kafka, keyed by VIN.
type BridgeConfig struct {
	Bridge   mqttbridge.Config
	HTTPAddr string
	Logger   *slog.Logger
}

// Bridge runs the MQTT→Kafka bridge until ctx is done.
func Bridge(ctx context.Context, c BridgeConfig) error {
	reg := newRegistry()
	bc := c.Bridge
	bc.Logger, bc.Registerer = c.Logger, reg
	b, err := mqttbridge.New(bc)
	if err != nil {
		return err
	}
	return runWithHTTP(ctx, c.HTTPAddr, c.Logger, reg, b.Run, func(context.Context) error { return b.Ready() })
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// runWithHTTP runs fn with /healthz, /readyz and /metrics on addr ("" for none).
func runWithHTTP(ctx context.Context, addr string, log *slog.Logger, reg *prometheus.Registry, fn func(context.Context) error, ready func(context.Context) error) error {
	if addr == "" {
		return fn(ctx)
	}
	srv := httpapi.New(httpapi.Options{Addr: addr, Logger: log, Gatherer: reg, Ready: ready})
	if err := srv.Listen(); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := fn(gctx)
		if err == nil && ctx.Err() == nil {
			err = errors.New("stopped")
		}
		return err
	})
	g.Go(func() error { return srv.Run(gctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
