package main

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// clientSettings are the sarama settings that decide throughput and latency. The baseline sets
// every one of them explicitly to the values fleetstream's topology.Kafka.Sarama() gives goka,
// so both sides run with the same client configuration; the bench prints them for both.
type clientSettings struct {
	Version          sarama.KafkaVersion
	Compression      sarama.CompressionCodec
	Acks             sarama.RequiredAcks
	Idempotent       bool
	FlushFrequency   time.Duration
	FlushBytes       int
	FlushMessages    int
	FlushMaxMessages int
	MaxMessageBytes  int
	MaxOpenRequests  int
	FetchMin         int32
	FetchDefault     int32
	FetchMax         int32
	MaxWaitTime      time.Duration
	ChannelBuffer    int
	AutoCommit       time.Duration
}

func settingsOf(c *sarama.Config) clientSettings {
	return clientSettings{
		Version:          c.Version,
		Compression:      c.Producer.Compression,
		Acks:             c.Producer.RequiredAcks,
		Idempotent:       c.Producer.Idempotent,
		FlushFrequency:   c.Producer.Flush.Frequency,
		FlushBytes:       c.Producer.Flush.Bytes,
		FlushMessages:    c.Producer.Flush.Messages,
		FlushMaxMessages: c.Producer.Flush.MaxMessages,
		MaxMessageBytes:  c.Producer.MaxMessageBytes,
		MaxOpenRequests:  c.Net.MaxOpenRequests,
		FetchMin:         c.Consumer.Fetch.Min,
		FetchDefault:     c.Consumer.Fetch.Default,
		FetchMax:         c.Consumer.Fetch.Max,
		MaxWaitTime:      c.Consumer.MaxWaitTime,
		ChannelBuffer:    c.ChannelBufferSize,
		AutoCommit:       c.Consumer.Offsets.AutoCommit.Interval,
	}
}

// apply sets every field on c.
func (s clientSettings) apply(c *sarama.Config) {
	c.Version = s.Version
	c.Producer.Compression = s.Compression
	c.Producer.RequiredAcks = s.Acks
	c.Producer.Idempotent = s.Idempotent
	c.Producer.Flush.Frequency = s.FlushFrequency
	c.Producer.Flush.Bytes = s.FlushBytes
	c.Producer.Flush.Messages = s.FlushMessages
	c.Producer.Flush.MaxMessages = s.FlushMaxMessages
	c.Producer.MaxMessageBytes = s.MaxMessageBytes
	c.Net.MaxOpenRequests = s.MaxOpenRequests
	c.Consumer.Fetch.Min = s.FetchMin
	c.Consumer.Fetch.Default = s.FetchDefault
	c.Consumer.Fetch.Max = s.FetchMax
	c.Consumer.MaxWaitTime = s.MaxWaitTime
	c.ChannelBufferSize = s.ChannelBuffer
	c.Consumer.Offsets.AutoCommit.Interval = s.AutoCommit
}

func (s clientSettings) String() string {
	acks := map[sarama.RequiredAcks]string{sarama.WaitForAll: "all", sarama.WaitForLocal: "leader", sarama.NoResponse: "none"}[s.Acks]
	return fmt.Sprintf("sarama %s: compression=%s acks=%s idempotent=%v flush.frequency=%s flush.bytes=%d flush.messages=%d "+
		"flush.max_messages=%d max_message_bytes=%d max_open_requests=%d fetch.min=%d fetch.default=%d fetch.max=%d "+
		"max_wait=%s channel_buffer=%d autocommit=%s",
		s.Version, s.Compression, acks, s.Idempotent, s.FlushFrequency, s.FlushBytes, s.FlushMessages,
		s.FlushMaxMessages, s.MaxMessageBytes, s.MaxOpenRequests, s.FetchMin, s.FetchDefault, s.FetchMax,
		s.MaxWaitTime, s.ChannelBuffer, s.AutoCommit)
}
