package fleet

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/fleetstream/fleetstream/internal/devstack"
)

// DevConfig is `fleetstream dev`: the embedded brokers, every group, and the simulated fleet in
// one process.
type DevConfig struct {
	// KafkaAddr and MQTTAddr are where the embedded brokers listen.
	KafkaAddr string
	MQTTAddr  string
	// OnlyBrokers runs just the embedded brokers, for trying several `fleetstream run` workers.
	OnlyBrokers bool
	// Worker configures the groups; its Kafka brokers are replaced by the embedded broker.
	Worker Config
	// Fleet configures the simulator and bridge; Vehicles 0 turns them off.
	Fleet FleetConfig
	// Stdout receives the addresses the stack listens on.
	Stdout io.Writer
}

// Dev runs the development stack until ctx is done.
func Dev(ctx context.Context, cfg DevConfig) error {
	log := cfg.Worker.logger()
	kafkaDir := ""
	if cfg.Worker.DataDir != "" {
		kafkaDir = filepath.Join(cfg.Worker.DataDir, "kafka")
	}
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: cfg.KafkaAddr, DataDir: kafkaDir, Logger: log})
	if err != nil {
		return fmt.Errorf("embedded kafka: %w", err)
	}
	defer kafka.Close()
	mqtt, err := devstack.StartMQTT(ctx, devstack.MQTTConfig{Addr: cfg.MQTTAddr, Logger: log})
	if err != nil {
		return fmt.Errorf("embedded mqtt: %w", err)
	}
	defer mqtt.Close()
	out := cfg.Stdout
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "kafka   %s   (any Kafka client: kcat -b %s -X partitioner=murmur2_random)\n", kafka.Addr(), kafka.Addr())
	fmt.Fprintf(out, "mqtt    %s   (mosquitto_sub -h %s -p %s -t 'connectedcar/#' -v)\n", mqtt.Addr(), hostOf(mqtt.Addr()), portOf(mqtt.Addr()))
	if cfg.OnlyBrokers {
		fmt.Fprintln(out, "brokers only: start workers with `fleetstream run --brokers "+kafka.Addr()+" --groups …`")
		<-ctx.Done()
		return nil
	}
	wc := cfg.Worker
	wc.Kafka.Brokers = kafka.Brokers()
	wc.Sinks = wc.Sinks.forDev(mqtt.Addr())
	w, err := NewWorker(wc)
	if err != nil {
		return err
	}
	if cfg.Fleet.Vehicles > 0 {
		if err := w.addFleet(cfg.Fleet, mqtt.Addr()); err != nil {
			return err
		}
	}
	if addr := w.HTTPAddr(); addr != "" {
		fmt.Fprintf(out, "http    http://%s   (/healthz /readyz /metrics /api/vehicles)\n", addr)
	}
	if wc.DataDir != "" {
		fmt.Fprintf(out, "data    %s\n", wc.DataDir)
	}
	return w.Run(ctx)
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
