package topology

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Admin answers the offset questions of lag monitoring and replay: high-water marks, log start
// offsets, offsets by time, a group's committed offsets and members. It holds one sarama client
// and the cluster admin over it.
type Admin struct {
	cfg    *sarama.Config
	client sarama.Client
	admin  sarama.ClusterAdmin
}

// ConnectAdmin connects to the cluster k names.
func ConnectAdmin(k Kafka) (*Admin, error) {
	cfg, err := k.Sarama()
	if err != nil {
		return nil, err
	}
	cfg.ClientID = k.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = "fleetstream"
	}
	cfg.ClientID += "-admin"
	client, err := sarama.NewClient(k.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to kafka %v: %w", k.Brokers, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka admin %v: %w", k.Brokers, err)
	}
	return &Admin{cfg: cfg, client: client, admin: admin}, nil
}

// Close closes the admin and its client.
func (a *Admin) Close() error { return a.admin.Close() }

// Partitions resolves topics to partitions: a topic with no partitions listed stands for all of
// its partitions. The result is sorted by topic and partition.
func (a *Admin) Partitions(topics map[string][]int32) ([]TopicPartition, error) {
	var out []TopicPartition
	for topic, parts := range topics {
		all, err := a.client.Partitions(topic)
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		if len(parts) == 0 {
			parts = all
		}
		for _, p := range parts {
			if !contains(all, p) {
				return nil, fmt.Errorf("topic %s has no partition %d (it has %d partitions)", topic, p, len(all))
			}
			out = append(out, TopicPartition{topic, p})
		}
	}
	sortPartitions(out)
	return out, nil
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func sortPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// HighWaterMarks returns the offset the next record of each partition will get.
func (a *Admin) HighWaterMarks(tps []TopicPartition) (map[TopicPartition]int64, error) {
	return a.listOffsets(tps, sarama.OffsetNewest)
}

// LogStartOffsets returns the oldest offset each partition still holds.
func (a *Admin) LogStartOffsets(tps []TopicPartition) (map[TopicPartition]int64, error) {
	return a.listOffsets(tps, sarama.OffsetOldest)
}

// OffsetsAt returns, per partition, the first offset whose record timestamp is at or after
// millis (Unix milliseconds), or -1 where no such record exists.
func (a *Admin) OffsetsAt(tps []TopicPartition, millis int64) (map[TopicPartition]int64, error) {
	if millis < 0 {
		return nil, fmt.Errorf("offsets at %d: a time before 1970 is not a timestamp", millis)
	}
	return a.listOffsets(tps, millis)
}

// listOffsets sends one ListOffsets request per partition leader.
func (a *Admin) listOffsets(tps []TopicPartition, at int64) (map[TopicPartition]int64, error) {
	type batch struct {
		req *sarama.OffsetRequest
		tps []TopicPartition
	}
	byLeader := map[*sarama.Broker]*batch{}
	for _, tp := range tps {
		leader, err := a.client.Leader(tp.Topic, tp.Partition)
		if err != nil {
			return nil, fmt.Errorf("leader of %s: %w", tp, err)
		}
		b, ok := byLeader[leader]
		if !ok {
			b = &batch{req: sarama.NewOffsetRequest(a.cfg.Version)}
			byLeader[leader] = b
		}
		b.req.AddBlock(tp.Topic, tp.Partition, at, 1)
		b.tps = append(b.tps, tp)
	}
	out := make(map[TopicPartition]int64, len(tps))
	for broker, b := range byLeader {
		resp, err := broker.GetAvailableOffsets(b.req)
		if err != nil {
			_ = broker.Close() // sarama reopens it on the next request
			return nil, fmt.Errorf("list offsets from broker %s: %w", broker.Addr(), err)
		}
		for _, tp := range b.tps {
			block := resp.GetBlock(tp.Topic, tp.Partition)
			if block == nil {
				return nil, fmt.Errorf("list offsets of %s: %w", tp, sarama.ErrIncompleteResponse)
			}
			if !errors.Is(block.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("list offsets of %s: %w", tp, block.Err)
			}
			out[tp] = -1
			if len(block.Offsets) > 0 {
				out[tp] = block.Offsets[0]
			}
		}
	}
	return out, nil
}

// Committed returns the offsets group committed for tps; -1 marks a partition without a
// committed offset. A group the broker has never seen has none (Kafka answers -1, some
// brokers GROUP_ID_NOT_FOUND).
func (a *Admin) Committed(group string, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64, len(tps))
	req := map[string][]int32{}
	for _, tp := range tps {
		out[tp] = -1
		req[tp.Topic] = append(req[tp.Topic], tp.Partition)
	}
	resp, err := a.admin.ListConsumerGroupOffsets(group, req)
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	if !errors.Is(resp.Err, sarama.ErrNoError) && !errors.Is(resp.Err, sarama.ErrGroupIDNotFound) {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, resp.Err)
	}
	for _, tp := range tps {
		b := resp.GetBlock(tp.Topic, tp.Partition)
		if b == nil {
			continue
		}
		if !errors.Is(b.Err, sarama.ErrNoError) && !errors.Is(b.Err, sarama.ErrGroupIDNotFound) {
			return nil, fmt.Errorf("committed offset of group %s on %s: %w", group, tp, b.Err)
		}
		out[tp] = b.Offset
	}
	return out, nil
}

// Member is one member of a consumer group, as the coordinator describes it.
type Member struct {
	ID       string
	ClientID string
	Host     string
}

func (m Member) String() string { return fmt.Sprintf("%s on %s (member %s)", m.ClientID, m.Host, m.ID) }

// Members returns the active members of group and its state (Empty, Stable,
// PreparingRebalance, …; Dead for a group the broker does not know).
func (a *Admin) Members(group string) (string, []Member, error) {
	descs, err := a.admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return "", nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	var state string
	var members []Member
	for _, d := range descs {
		if d.GroupId != group {
			continue
		}
		if !errors.Is(d.Err, sarama.ErrNoError) && !errors.Is(d.Err, sarama.ErrGroupIDNotFound) {
			return "", nil, fmt.Errorf("describe group %s: %w", group, d.Err)
		}
		state = d.State
		for id, m := range d.Members {
			members = append(members, Member{ID: id, ClientID: m.ClientId, Host: m.ClientHost})
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	return state, members, nil
}

// Commit sets group's committed offsets as an admin does: outside any generation, which the
// coordinator accepts only while the group has no active members.
func (a *Admin) Commit(group string, offsets map[TopicPartition]int64) error {
	coord, err := a.client.Coordinator(group)
	if err != nil {
		return fmt.Errorf("coordinator of group %s: %w", group, err)
	}
	req := sarama.NewOffsetCommitRequest(a.cfg, group)
	for tp, off := range offsets {
		req.AddBlock(tp.Topic, tp.Partition, off, 0, "")
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		return fmt.Errorf("commit offsets of group %s: %w", group, err)
	}
	var failed []string
	var first error
	for topic, parts := range resp.Errors {
		for p, kerr := range parts {
			if !errors.Is(kerr, sarama.ErrNoError) {
				failed = append(failed, fmt.Sprintf("%s/%d: %v", topic, p, kerr))
				if first == nil {
					first = kerr
				}
			}
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("commit offsets of group %s: %s: %w", group, strings.Join(failed, "; "), first)
	}
	return nil
}

// TopicShape is what it takes to create a topic again: partitions, replication and the
// configuration set on the topic itself.
type TopicShape struct {
	Name        string
	Partitions  int32
	Replication int16
	Configs     map[string]string
}

// DescribeTopic returns the shape of topic.
func (a *Admin) DescribeTopic(topic string) (TopicShape, error) {
	metas, err := a.admin.DescribeTopics([]string{topic})
	if err != nil {
		return TopicShape{}, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if len(metas) != 1 || !errors.Is(metas[0].Err, sarama.ErrNoError) {
		if len(metas) == 1 {
			err = metas[0].Err
		}
		return TopicShape{}, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	shape := TopicShape{Name: topic, Partitions: int32(len(metas[0].Partitions)), Configs: map[string]string{}}
	for _, p := range metas[0].Partitions {
		shape.Replication = max(shape.Replication, int16(len(p.Replicas)))
	}
	entries, err := a.admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return TopicShape{}, fmt.Errorf("describe config of %s: %w", topic, err)
	}
	for _, e := range entries {
		if e.Source == sarama.SourceTopic && !e.Sensitive {
			shape.Configs[e.Name] = e.Value
		}
	}
	return shape, nil
}

// RecreateTopic deletes topic and creates it again with shape, which empties it: offsets
// start at 0 again. Deletion completes in the background on Kafka, so creation is retried
// until ctx ends while the old topic is still being removed.
func (a *Admin) RecreateTopic(ctx context.Context, shape TopicShape) error {
	if err := a.admin.DeleteTopic(shape.Name); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("delete topic %s: %w", shape.Name, err)
	}
	detail := &sarama.TopicDetail{NumPartitions: shape.Partitions, ReplicationFactor: shape.Replication, ConfigEntries: map[string]*string{}}
	for k, v := range shape.Configs {
		detail.ConfigEntries[k] = &v
	}
	for {
		err := a.admin.CreateTopic(shape.Name, detail, false)
		if err == nil {
			return a.client.RefreshMetadata(shape.Name)
		}
		if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s again (%d partitions, replication %d): %w", shape.Name, shape.Partitions, shape.Replication, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create topic %s again: still being deleted: %w", shape.Name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
