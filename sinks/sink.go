package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is one Kafka record handed to a backend.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
}

// Backend writes batches of records to one destination (Timestream, InfluxDB, files, an MQTT
// broker, the AWS IoT data plane). The delivery core batches, retries, dead-letters and commits;
// a backend only writes and says what failed.
type Backend interface {
	// Name is a short label for logs and metrics ("timestream", "influx", "files", "mqtt", …).
	Name() string
	// Connect checks the destination (database and table exist, broker reachable) before any
	// record is consumed, so a wrong setting fails at start-up with a clear message.
	Connect(ctx context.Context) error
	// WriteBatch writes records in order. nil means all are written. A *BatchError says which
	// records failed and whether each may be retried; any other error applies to the whole
	// batch and is retried if Retryable(err) says so.
	//
	// The delivery core (Worker) hands over batches of one topic partition each, and calls
	// WriteBatch from up to Config.MaxInFlight goroutines at once for different partitions: a
	// backend that cannot write concurrently serialises internally. It retries only the failed
	// records of a batch, so a backend that must keep a partition's order fails every record
	// after its first retryable failure too. A failure may say how long to wait before the
	// next attempt with WithRetryAfter. ctx carries the write deadline (Config.WriteTimeout).
	WriteBatch(ctx context.Context, batch []Record) error
	// Close releases connections, flushing what the backend holds.
	Close(ctx context.Context) error
}

// RecordError is the failure of one record of a batch.
type RecordError struct {
	// Index is the record's position in the batch passed to WriteBatch.
	Index int
	Err   error
}

// BatchError reports the records of a batch that failed; the others were written.
type BatchError struct {
	Failed []RecordError
}

func (e *BatchError) Error() string {
	if len(e.Failed) == 0 {
		return "batch: no failed records"
	}
	return fmt.Sprintf("batch: %d records failed, first (index %d): %v", len(e.Failed), e.Failed[0].Index, e.Failed[0].Err)
}

// ErrPermanent marks a failure that no retry can fix (a rejected or malformed record): the
// record goes to dead-letters.
var ErrPermanent = errors.New("permanent")

// Permanent wraps err so Retryable reports false.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// Retryable reports whether a failure may succeed when tried again: everything is, except
// errors wrapped with Permanent and context cancellation.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	return !errors.Is(err, ErrPermanent) && !errors.Is(err, context.Canceled)
}
