package topology

import (
	"testing"

	"github.com/IBM/sarama"
)

// Known outputs of Kafka's Java Utils.murmur2 (UtilsTest, and librdkafka's rdmurmur2 tests).
var javaMurmur2 = []struct {
	key  string
	want int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
	{"1", -1993445489},
	{"12", 126087238},
	{"123", -267702483},
	{"1234", -1614185708},
	{"12345", -1188365604},
}

func TestMurmur2MatchesJava(t *testing.T) {
	for _, c := range javaMurmur2 {
		if got := Murmur2([]byte(c.key)); got != c.want {
			t.Errorf("Murmur2(%q) = %d, Java says %d", c.key, got, c.want)
		}
	}
}

// javaPartition is DefaultPartitioner's formula: toPositive(murmur2(key)) % n.
func javaPartition(key string, n int32) int32 {
	return (Murmur2([]byte(key)) & 0x7fffffff) % n
}

func TestMurmur2PartitionMatchesJavaEverywhere(t *testing.T) {
	hasher := PartitionerMurmur2.Hasher()
	saramaPart := sarama.NewCustomHashPartitioner(hasher)("t")
	for _, n := range []int32{1, 3, 6, 8, 12, 100} {
		for _, c := range javaMurmur2 {
			want := javaPartition(c.key, n)
			if got := PartitionerMurmur2.Partition([]byte(c.key), n); got != want {
				t.Errorf("goka-style partition(%q, %d) = %d, Java %d", c.key, n, got, want)
			}
			got, err := saramaPart.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(c.key)}, n)
			if err != nil || got != want {
				t.Errorf("sarama partition(%q, %d) = %d (%v), Java %d", c.key, n, got, err, want)
			}
		}
	}
	// A negative murmur2 is where sarama's abs() and Java's mask disagree; make sure one is covered.
	neg := Murmur2([]byte("21"))
	if neg >= 0 || -neg%12 == (neg&0x7fffffff)%12 {
		t.Fatalf("test vector no longer exercises the abs/mask difference")
	}
}

func TestPartitionerValidate(t *testing.T) {
	if err := Partitioner("crc32").Validate(); err == nil {
		t.Fatal("unknown partitioner accepted")
	}
	for _, p := range []Partitioner{PartitionerMurmur2, PartitionerFNV1a} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}
