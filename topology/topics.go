package topology

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/IBM/sarama"
)

// Topics names the topics of a deployment. Every name is configurable; the defaults are the
// contract in DESIGN.md.
type Topics struct {
	Telemetry   string
	Trips       string
	Diagnostics string
	Anomalies   string
	DTCEvents   string
	Commands    string
	Timeseries  string
	DeadLetters string
}

// DefaultTopics returns the default topic names.
func DefaultTopics() Topics {
	return Topics{
		Telemetry:   "telemetry",
		Trips:       "trips",
		Diagnostics: "diagnostics",
		Anomalies:   "anomalies",
		DTCEvents:   "dtc-events",
		Commands:    "commands",
		Timeseries:  "timeseries",
		DeadLetters: "dead-letters",
	}
}

// Validate reports an empty or duplicated name.
func (t Topics) Validate() error {
	seen := map[string]string{}
	for _, f := range t.fields() {
		if f.name == "" {
			return fmt.Errorf("topics: %s topic has no name: set --topic-%s", f.role, f.role)
		}
		if other, dup := seen[f.name]; dup {
			return fmt.Errorf("topics: %s and %s are both %q: give each its own topic", other, f.role, f.name)
		}
		seen[f.name] = f.role
	}
	return nil
}

type topicField struct{ role, name string }

func (t Topics) fields() []topicField {
	return []topicField{
		{"telemetry", t.Telemetry}, {"trips", t.Trips}, {"diagnostics", t.Diagnostics},
		{"anomalies", t.Anomalies}, {"dtc-events", t.DTCEvents}, {"commands", t.Commands},
		{"timeseries", t.Timeseries}, {"dead-letters", t.DeadLetters},
	}
}

// Names lists every topic name.
func (t Topics) Names() []string {
	var out []string
	for _, f := range t.fields() {
		out = append(out, f.name)
	}
	return out
}

// TopicSpec says how a topic is to be created.
type TopicSpec struct {
	Name        string
	Partitions  int32
	Replication int16
	// Compacted topics keep the newest record per key (goka tables).
	Compacted bool
	// CoPartitioned topics must all have the same partition count: joins and tables depend on it.
	CoPartitioned bool
}

// Provisioning is the shape of a deployment's topics.
type Provisioning struct {
	Partitions  int32
	Replication int16
}

// Validate reports counts that cannot work.
func (p Provisioning) Validate() error {
	if p.Partitions < 1 {
		return fmt.Errorf("topics: partitions %d: use at least 1 (and at least the number of workers you plan to run)", p.Partitions)
	}
	if p.Replication < 1 {
		return fmt.Errorf("topics: replication %d: use 1 for a single broker, 3 on MSK", p.Replication)
	}
	return nil
}

// Specs returns the specs of every topic: all stream topics and the given tables are
// co-partitioned, tables are compacted.
func (p Provisioning) Specs(t Topics, tables ...string) []TopicSpec {
	var specs []TopicSpec
	for _, name := range t.Names() {
		specs = append(specs, TopicSpec{Name: name, Partitions: p.Partitions, Replication: p.Replication, CoPartitioned: true})
	}
	for _, name := range tables {
		specs = append(specs, TopicSpec{Name: name, Partitions: p.Partitions, Replication: p.Replication, Compacted: true, CoPartitioned: true})
	}
	return specs
}

// ErrPartitionMismatch is wrapped by Ensure when an existing co-partitioned topic has another
// partition count than the deployment's.
var ErrPartitionMismatch = errors.New("co-partitioned topic has a different partition count")

// EnsureResult says what Ensure did with each topic.
type EnsureResult struct {
	Created  []string
	Existing []string
}

// Ensure creates the missing topics and checks the existing ones. It fails, naming each topic,
// when an existing co-partitioned topic's partition count differs from its spec: joins would
// silently read the wrong partitions.
func Ensure(ctx context.Context, admin sarama.ClusterAdmin, specs []TopicSpec) (EnsureResult, error) {
	var res EnsureResult
	existing, err := admin.ListTopics()
	if err != nil {
		return res, fmt.Errorf("list topics: %w", err)
	}
	var mismatches []string
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if d, ok := existing[s.Name]; ok {
			res.Existing = append(res.Existing, s.Name)
			if s.CoPartitioned && d.NumPartitions != s.Partitions {
				mismatches = append(mismatches, fmt.Sprintf("%s has %d partitions, want %d", s.Name, d.NumPartitions, s.Partitions))
			}
			continue
		}
		detail := &sarama.TopicDetail{NumPartitions: s.Partitions, ReplicationFactor: s.Replication, ConfigEntries: map[string]*string{}}
		if s.Compacted {
			compact := "compact"
			detail.ConfigEntries["cleanup.policy"] = &compact
		}
		if err := admin.CreateTopic(s.Name, detail, false); err != nil {
			if errors.Is(err, sarama.ErrTopicAlreadyExists) {
				res.Existing = append(res.Existing, s.Name)
				continue
			}
			return res, fmt.Errorf("create topic %s (%d partitions, replication %d): %w", s.Name, s.Partitions, s.Replication, err)
		}
		res.Created = append(res.Created, s.Name)
	}
	if len(mismatches) > 0 {
		sort.Strings(mismatches)
		return res, fmt.Errorf("%w: %v; set --partitions to match, or recreate the topics (a replay rebuilds tables)", ErrPartitionMismatch, mismatches)
	}
	return res, nil
}

// EnsureTopics connects with the given configuration and runs Ensure.
func EnsureTopics(ctx context.Context, k Kafka, specs []TopicSpec) (EnsureResult, error) {
	cfg, err := k.Sarama()
	if err != nil {
		return EnsureResult{}, err
	}
	admin, err := sarama.NewClusterAdmin(k.Brokers, cfg)
	if err != nil {
		return EnsureResult{}, fmt.Errorf("connect to kafka %v: %w", k.Brokers, err)
	}
	defer admin.Close()
	return Ensure(ctx, admin, specs)
}
