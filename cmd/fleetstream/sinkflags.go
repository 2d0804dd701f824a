package main

import (
	"github.com/spf13/pflag"

	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/iot"
)

// sinkFlags are the backend flags of the sink groups.
type sinkFlags struct {
	sc      fleet.SinkConfig
	iotMode string
}

func addSinkFlags(fs *pflag.FlagSet) *sinkFlags {
	f := &sinkFlags{sc: fleet.DefaultSinkConfig()}
	c := &f.sc.Commands
	fs.StringVar(&c.Kind, "command-backend", c.Kind, "where commands go: mqtt (any broker, AWS IoT Core over TLS) or iot (AWS IoT data plane API)")
	fs.StringVar(&c.Target.Topic, "command-topic", c.Target.Topic, "topic template of a command (fields of the command: {{.VIN}}, {{.ID}}, …)")
	fs.StringVar(&c.Target.Payload, "command-payload", c.Target.Payload, "payload template of a command; must render JSON")
	fs.StringSliceVar(&c.MQTT.Brokers, "mqtt-brokers", c.MQTT.Brokers, "MQTT broker URLs for commands: tcp://host:1883 or tls://host:8883")
	fs.StringVar(&c.MQTT.ClientID, "mqtt-client-id", c.MQTT.ClientID, "MQTT client id of the command sink (one per worker)")
	fs.StringVar(&c.MQTT.Username, "mqtt-username", "", "MQTT username")
	fs.StringVar(&c.MQTT.Password, "mqtt-password", "", "MQTT password")
	fs.StringVar(&c.MQTT.TLS.CAFile, "mqtt-ca-file", "", "PEM CA bundle for the MQTT broker (AmazonRootCA1.pem for AWS IoT Core)")
	fs.StringVar(&c.MQTT.TLS.CertFile, "mqtt-cert-file", "", "PEM client certificate for MQTT over TLS")
	fs.StringVar(&c.MQTT.TLS.KeyFile, "mqtt-key-file", "", "PEM client key for MQTT over TLS")
	fs.Float64Var(&c.MQTT.Rate, "mqtt-rate", c.MQTT.Rate, "command publishes per second per connection (AWS IoT Core allows 100)")
	fs.StringVar(&f.iotMode, "iot-mode", string(c.IoT.Mode), "iot backend: publish (Publish QoS 1 to the topic) or shadow (UpdateThingShadow)")
	fs.StringVar(&c.IoT.Endpoint, "iot-endpoint", "", "AWS IoT data endpoint (default: AWS_ENDPOINT_URL_IOT_DATA_PLANE or the SDK's)")
	fs.Float64Var(&c.IoT.Rate, "iot-rate", c.IoT.Rate, "AWS IoT data plane calls per second")
	f.sc.Timestream.AddFlags(fs)
	ic := &f.sc.Influx
	fs.StringVar(&ic.URL, "influx-url", "", "InfluxDB / Timestream for InfluxDB URL: write time series there (line protocol)")
	fs.StringVar(&ic.API, "influx-api", "v2", "InfluxDB write API: v2 (org, bucket, token) or v1 (database)")
	fs.StringVar(&ic.Org, "influx-org", "", "InfluxDB organization (v2)")
	fs.StringVar(&ic.Bucket, "influx-bucket", "", "InfluxDB bucket (v2)")
	fs.StringVar(&ic.Token, "influx-token", "", "InfluxDB API token (v2); prefer FLEETSTREAM_INFLUX_TOKEN")
	fs.StringVar(&ic.Database, "influx-database", "", "InfluxDB database (v1)")
	fs.StringVar(&ic.Username, "influx-username", "", "InfluxDB username (v1)")
	fs.StringVar(&ic.Password, "influx-password", "", "InfluxDB password (v1)")
	d := &f.sc.Delivery
	fs.IntVar(&d.MaxRecords, "sink-batch-records", sinks.DefaultMaxRecords, "timeseries sink: records per batch")
	fs.DurationVar(&d.Linger, "sink-linger", sinks.DefaultLinger, "timeseries sink: how long a batch waits to fill")
	fs.IntVar(&d.MaxInFlight, "sink-in-flight", sinks.DefaultMaxInFlight, "timeseries sink: batches (of different partitions) delivered at once")
	fs.DurationVar(&d.DrainTimeout, "sink-drain-timeout", sinks.DefaultDrainTimeout, "timeseries sink: delivery deadline for fetched records on shutdown or rebalance")
	return f
}

func (f *sinkFlags) config(dataDir string) (fleet.SinkConfig, error) {
	sc := f.sc
	sc.Commands.IoT.Mode = iot.Mode(f.iotMode)
	return sc, nil
}
