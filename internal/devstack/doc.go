// Package devstack runs the embedded brokers of `fleetstream dev`: a Kafka-protocol broker
// (kfake, from franz-go) and an MQTT broker (mochi-mqtt), both in process and reachable over
// TCP by any client, so that the whole topology runs with no cloud account and no containers.
//
//	k, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:9092", DataDir: dir})
//	m, err := devstack.StartMQTT(ctx, devstack.MQTTConfig{Addr: "127.0.0.1:1883"})
//	// ... run processors and sinks against k.Brokers() and m.Addr() ...
//	// stop processors and sinks first, then
//	m.Close()
//	k.Close()
//
// Both start in milliseconds; Addr reports the real address when port 0 was asked for. ctx bounds
// the start only: the brokers run until Close, so that processors can commit their last offsets
// after the command's context is cancelled.
//
// The tests in this package are also the record of what works with what: sarama v1.61.1, goka
// v1.1.16, franz-go's kgo, paho (MQTT 3.1.1) and a raw MQTT 5 client, over TCP. The notes below
// are what they found.
//
// # Which sarama Version
//
// Use sarama.V3_6_0_0. No version tested fails against kfake. Sync producer plus consumer group
// with offset commits (TestSaramaVersions): V2_1_0_0, V2_8_0_0 (sarama's DefaultVersion),
// V3_6_0_0, V3_9_0_0, V4_0_0_0 and sarama.MaxVersion (V4_3_1_0). goka processor with a group
// table, restarted and recovered (TestGokaProcessor): V2_1_0_0 to V4_0_0_0. Cluster admin
// (create topic with configs, describe cluster/topics/configs, alter and incremental-alter
// configs, create partitions, list/describe/delete groups, delete group offsets and records,
// delete topic), idempotent producer with every compression codec and headers, generation -1
// offset commit (TestSaramaAdminAndProduce): V2_8_0_0, V3_6_0_0 and MaxVersion, each with and
// without sarama's ApiVersions request. sarama reading records from another client with every
// codec, null keys and values and a committed transaction (TestSaramaReadsOtherProducers):
// V2_1_0_0, V3_6_0_0, MaxVersion. kfake implements current request versions and sarama clamps
// its requests to the versions the broker advertises, so no "invalid byteslice length" or other
// decoding error came up. Below V2_3_0_0 sarama itself refuses IncrementalAlterConfig, and below
// V2_4_0_0 DeleteConsumerGroupOffset ("The version of API is not supported"). V3_6_0_0 has
// everything fleetstream uses and is a version Amazon MSK runs; going higher gains nothing here.
// goka.DefaultConfig sets V2_0_0_0, so set Version explicitly.
//
// # goka against any broker (found here, not kfake-specific)
//
//   - goka waits a fixed 5 seconds after a consumer-group session ends before it rejoins
//     (Processor.rebalanceLoop), so every rebalance of a goka group (an instance starting or
//     stopping) takes a little over 5s plus sarama's Consumer.Group.Heartbeat.Interval, which is
//     how quickly a member learns of the rebalance. Measured: 8.5s with sarama's defaults,
//     5.3s with a 250ms heartbeat.
//   - Because of that pause, Consumer.Group.Session.Timeout and Consumer.Group.Rebalance.Timeout
//     must both stay well above 5s (sarama's defaults, 10s and 60s, are fine; 8s and 10s are the
//     fast settings the tests use). With either below 5s the broker expels the pausing member,
//     and two or more instances ping-pong for ever: every generation hands all partitions to one
//     instance, and the log shows "Consumer group returned, Rebalancing." every 5s. So lowering
//     session timeouts (and kfake's GroupMinSessionTimeout, 6s by default) does not speed up goka
//     tests; shorten Heartbeat.Interval instead. GroupMinSessionTimeout only helps plain
//     sarama/kgo consumers.
//   - goka's builders write into the sarama config they are given (ClientID, and the partitioner
//     of the producer builder): give every builder its own config. goka.DefaultConfig returns a
//     new config each call and leaves goka's global one alone, so it is a fine starting point.
//   - goka.NewTopicManagerConfig asks for replication 2, which one broker rejects ("Replication-
//     factor is invalid"): set Table.Replication and Stream.Replication to 1 in dev. Its
//     Stream.Retention of 1h becomes retention.ms of any stream topic goka creates, and kfake
//     enforces it (hourly), so raise it for topics that should keep history for replay.
//   - goka's processor default storage is LevelDB under os.TempDir()/goka; pass a storage builder.
//
// # kfake quirks
//
//   - kfake starts 3 brokers by default and always listens on 127.0.0.1; StartKafka asks for one
//     broker and hands kfake its own listener (ListenFn), so Addr's host is honoured. kfake
//     advertises its listener's address in metadata, which for 0.0.0.0 or :: no client can dial:
//     that is replaced by 127.0.0.1, or by KafkaConfig.AdvertisedAddr.
//   - OffsetFetch for a group kfake has never seen answers GROUP_ID_NOT_FOUND, where Kafka
//     answers offset -1 without an error. sarama's OffsetManager.ManagePartition and
//     ClusterAdmin.ListConsumerGroupOffsets fail with sarama.ErrGroupIDNotFound for such a group
//     (replay and lag tooling run into this). Treat that error as "no committed offsets", or
//     create the group with a generation -1 commit first. Consumer groups are unaffected: joining
//     creates the group before offsets are fetched. TestKfakeOffsetFetchUnknownGroup pins this.
//   - Close persists the members still in a group and the next start on the same DataDir restores
//     them for the rest of their session timeout: a new member's first join then waits for those
//     ghosts to expire (measured: the full 8s session timeout). Stop processors and consumers
//     (they leave their groups) before Kafka.Close.
//   - A group's first join completes at once (no group.initial.rebalance.delay.ms), so when
//     several instances start together the first takes every partition and a rebalance follows.
//   - Auto topic creation is off unless KafkaConfig.AutoCreateTopics is set; topics created
//     without a partition count get DefaultPartitions (10). Compaction and retention run once an
//     hour (log.cleaner.backoff.ms).
//
// # Persistence (KafkaConfig.DataDir)
//
// With a DataDir, every produced batch is appended to segment files and every offset commit to
// an append-only groups log as it happens; Close writes the snapshots (topics, high watermarks,
// producer ids, group sessions) and closes the files. A restart on the same directory resumes
// topics, records, committed offsets and goka group tables (TestKafkaRestartKeepsData,
// TestGokaProcessorBrokerRestart), and so does a restart after a process that died without
// Close (TestKafkaCrashRecovery: kfake rebuilds from the segments). Segment writes are not
// fsynced (kfake's SyncWrites is off, as in Kafka's default), so a machine crash, unlike a process
// crash, may lose the most recent records. Two processes must not share a DataDir.
//
// # MQTT
//
// mochi-mqtt serves MQTT 3.1.1 and 5 with QoS up to 2, retained messages and persistent
// sessions, in memory, with an allow-all auth hook. Clients may publish to $aws/... (AWS IoT
// shadow topics) without any option: mochi refuses client publishes only to $SYS/...
// (MQTT spec 4.7.2, non-normative). Per the spec, filters starting with a wildcard (#, +/...) do
// not match topics starting with $, so subscribe to $aws/things/+/shadow/update explicitly. The
// session of a disconnected client is kept for at most 24h. paho.mqtt.golang hands an incoming
// message to every matching handler of the client, and its own matching lets # match $aws/...,
// so one client subscribed to both sees shadow updates twice.
package devstack
