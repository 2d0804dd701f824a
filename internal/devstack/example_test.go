package devstack_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/internal/devstack"
)

func ExampleStartKafka() {
	ctx := context.Background()
	k, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0"}) // in memory, any free port
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()

	// Any Kafka client can use it; here franz-go's kgo.
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.ConsumeTopics("telemetry"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, "telemetry"); err != nil {
		fmt.Println(err)
		return
	}
	rec := &kgo.Record{Topic: "telemetry", Key: []byte("1FTFW1E50PFA00001"), Value: []byte(`{"speed":42}`)}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		fmt.Println(err)
		return
	}
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { fmt.Printf("%s %s\n", r.Key, r.Value) })
	// Output: 1FTFW1E50PFA00001 {"speed":42}
}
