package topology

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// memoryStorage is goka's in-memory table storage (storage.NewMemory), method for method,
// without its cost per new key: goka's keeps its keys in a slice that it sorts again after
// every new key, so loading a table partition of n keys takes O(n²) — recovering a million
// vehicles on a worker without --data-dir never finished (make bench). memoryStorage keeps
// only the map and sorts the keys when an iterator asks for them, which is what goka's
// iterators copy anyway.
type memoryStorage struct {
	mu     sync.RWMutex
	values map[string][]byte
	offset *int64
}

func memoryStorageBuilder() storage.Builder {
	return func(string, int32) (storage.Storage, error) {
		return &memoryStorage{values: map[string][]byte{}}, nil
	}
}

func (m *memoryStorage) Open() error  { return nil }
func (m *memoryStorage) Close() error { return nil }

func (m *memoryStorage) Has(key string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.values[key]
	return ok, nil
}

func (m *memoryStorage) Get(key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.values[key], nil
}

func (m *memoryStorage) Set(key string, value []byte) error {
	if value == nil {
		return errors.New("cannot write nil value")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = value
	return nil
}

func (m *memoryStorage) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.values, key)
	return nil
}

func (m *memoryStorage) MarkRecovered() error { return nil }

func (m *memoryStorage) SetOffset(offset int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offset = &offset
	return nil
}

func (m *memoryStorage) GetOffset(def int64) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.offset == nil {
		return def, nil
	}
	return *m.offset, nil
}

// Iterator returns an iterator over a snapshot of every key, in order.
func (m *memoryStorage) Iterator() (storage.Iterator, error) {
	return m.snapshot(func(string) bool { return true }), nil
}

// IteratorWithRange returns an iterator over a snapshot of the keys from start to limit, both
// included as goka's does; an empty limit means every key with the prefix start.
func (m *memoryStorage) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	if len(limit) == 0 {
		limit = util.BytesPrefix(start).Limit
	}
	return m.snapshot(func(k string) bool {
		return bytes.Compare([]byte(k), start) > -1 && bytes.Compare([]byte(k), limit) < 1
	}), nil
}

func (m *memoryStorage) snapshot(keep func(string) bool) *memoryIterator {
	m.mu.RLock()
	defer m.mu.RUnlock()
	it := &memoryIterator{current: -1, values: make(map[string][]byte, len(m.values))}
	for k, v := range m.values {
		if keep(k) {
			it.keys = append(it.keys, k)
			it.values[k] = v
		}
	}
	slices.Sort(it.keys)
	return it
}

// offsetKey is the key goka's storages keep the table offset under; iterators skip it.
const offsetKey = "__offset"

// memoryIterator behaves as goka's in-memory iterator.
type memoryIterator struct {
	current int
	keys    []string
	values  map[string][]byte
}

func (i *memoryIterator) exhausted() bool { return len(i.keys) <= i.current }

func (i *memoryIterator) Next() bool {
	i.current++
	if string(i.Key()) == offsetKey {
		i.current++
	}
	return !i.exhausted()
}

func (i *memoryIterator) Err() error { return nil }

func (i *memoryIterator) Key() []byte {
	if i.exhausted() {
		return nil
	}
	return []byte(i.keys[i.current])
}

func (i *memoryIterator) Value() ([]byte, error) {
	if i.exhausted() {
		return nil, nil
	}
	return i.values[i.keys[i.current]], nil
}

func (i *memoryIterator) Release() { i.current = len(i.keys) }

// Seek moves to the first key from here on that has key as its prefix, as goka's does.
func (i *memoryIterator) Seek(key []byte) bool {
	if i.exhausted() {
		return false
	}
	if i.current < 0 && !i.Next() {
		return false
	}
	for i.current < len(i.keys) {
		if strings.HasPrefix(i.keys[i.current], string(key)) {
			break
		}
		i.current++
	}
	return !i.exhausted()
}
