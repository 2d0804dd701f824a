package topology

import (
	"sync"
	"time"

	"github.com/lovoo/goka/storage"
)

// offsetSyncInterval is how often a recovered table partition writes its changelog offset to
// LevelDB.
const offsetSyncInterval = time.Second

// lazyOffsets wraps goka's LevelDB storage of one table partition. goka records the changelog
// offset of every acknowledged table write (and, in views, of every record read) with
// SetOffset, and its LevelDB storage writes each one through to disk once the table is
// recovered: a second LevelDB write, journal write included, per message. lazyOffsets writes
// the newest offset at most every offsetSyncInterval and on Close instead, as goka's storage
// already does while recovering.
//
// The stored offset only ever lags: on the next start goka reads the table's changelog from
// there, rewriting values the storage already holds with the same values, up to the newest. A
// crash costs at most offsetSyncInterval of changelog re-read, never a value.
type lazyOffsets struct {
	storage.Storage

	mu        sync.Mutex
	recovered bool
	offset    int64 // newest offset given since the last write
	dirty     bool
	written   time.Time
}

func lazyOffsetStorage(b storage.Builder) storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		st, err := b(topic, partition)
		if err != nil {
			return nil, err
		}
		return &lazyOffsets{Storage: st}, nil
	}
}

func (s *lazyOffsets) SetOffset(offset int64) error {
	s.mu.Lock()
	if !s.recovered {
		s.mu.Unlock()
		return s.Storage.SetOffset(offset) // goka's storage keeps it in memory until recovered
	}
	s.offset, s.dirty = offset, true
	now := time.Now()
	if now.Sub(s.written) < offsetSyncInterval {
		s.mu.Unlock()
		return nil
	}
	s.written, s.dirty = now, false
	s.mu.Unlock()
	return s.Storage.SetOffset(offset)
}

func (s *lazyOffsets) MarkRecovered() error {
	err := s.Storage.MarkRecovered()
	s.mu.Lock()
	s.recovered, s.written = true, time.Now()
	s.mu.Unlock()
	return err
}

// Close writes the newest offset, then closes the storage.
func (s *lazyOffsets) Close() error {
	s.mu.Lock()
	offset, dirty := s.offset, s.dirty
	s.dirty = false
	s.mu.Unlock()
	if dirty {
		if err := s.Storage.SetOffset(offset); err != nil {
			_ = s.Storage.Close()
			return err
		}
	}
	return s.Storage.Close()
}
