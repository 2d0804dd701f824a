package topology

import (
	"fmt"
	"hash"
	"hash/fnv"
)

// Partitioner names the function that maps a record key to a partition. Every producer,
// processor and view of a deployment must use the same one, or joins and table lookups miss.
type Partitioner string

const (
	// PartitionerMurmur2 is Kafka's default partitioner for keyed records, exactly as the Java
	// client computes it: toPositive(murmur2(key)) % partitions. kcat's murmur2_random, the Java
	// client, Kafka Streams and franz-go's default agree with it.
	PartitionerMurmur2 Partitioner = "murmur2"
	// PartitionerFNV1a is goka's default (FNV-1a, 32 bit, absolute value modulo partitions).
	PartitionerFNV1a Partitioner = "fnv1a"
)

// Validate names the accepted values when p is not one of them.
func (p Partitioner) Validate() error {
	switch p {
	case PartitionerMurmur2, PartitionerFNV1a:
		return nil
	}
	return fmt.Errorf("partitioner %q is unknown: use %q (Kafka's default, matches kcat -X partitioner=murmur2_random and the Java client) or %q (goka's default)", string(p), PartitionerMurmur2, PartitionerFNV1a)
}

// Hasher returns the hash constructor goka needs (goka.WithHasher, WithViewHasher and the
// producer's partitioner). Both goka (abs, then modulo) and sarama's hash partitioner (modulo,
// then abs) reduce a non-negative hash the same way, so the murmur2 hasher returns the
// Java-masked value and every component lands on Java's partition.
func (p Partitioner) Hasher() func() hash.Hash32 {
	if p == PartitionerFNV1a {
		return fnv.New32a
	}
	return func() hash.Hash32 { return new(murmur2Hash) }
}

// Partition returns the partition of key among n partitions.
func (p Partitioner) Partition(key []byte, n int32) int32 {
	h := p.Hasher()()
	_, _ = h.Write(key)
	v := int32(h.Sum32())
	if v < 0 {
		v = -v
	}
	if v < 0 {
		v = 0
	}
	return v % n
}

// Murmur2 is Kafka's Utils.murmur2 (seed 0x9747b28c), returning the signed 32-bit value the Java
// client computes.
func Murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n := length / 4
	for i := 0; i < n; i++ {
		j := i * 4
		k := uint32(data[j]) | uint32(data[j+1])<<8 | uint32(data[j+2])<<16 | uint32(data[j+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// murmur2Hash adapts Murmur2 to hash.Hash32. Sum32 returns toPositive(murmur2) — Java's
// `& 0x7fffffff` — so the goka and sarama reductions yield Java's partition.
type murmur2Hash struct{ buf []byte }

func (h *murmur2Hash) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *murmur2Hash) Sum32() uint32               { return uint32(Murmur2(h.buf)) & 0x7fffffff }
func (h *murmur2Hash) Reset()                      { h.buf = h.buf[:0] }
func (h *murmur2Hash) Size() int                   { return 4 }
func (h *murmur2Hash) BlockSize() int              { return 4 }
func (h *murmur2Hash) Sum(b []byte) []byte {
	s := h.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
