package timestream

import (
	"sort"
	"sync"
)

// mergeCache remembers, per series, the entries of the buckets written in the last MergeWindow
// of event time. Timestream replaces a multi-measure record as a whole on upsert, so a bucket
// whose measurements arrive in two batches must be written the second time as the union of
// both, or the second write would drop what the first wrote.
type mergeCache struct {
	mu       sync.Mutex
	windowMs int64
	limit    int // buckets held at most, over all series
	held     int
	series   map[string]*cachedSeries
}

type cachedSeries struct {
	newestMs int64
	buckets  map[int64]map[string]*entry
}

// defaultCacheBuckets bounds the merge cache: with 1 s buckets and ~20 signals a bucket it is
// some tens of megabytes.
const defaultCacheBuckets = 1 << 16

func newMergeCache(windowMs int64, limit int) *mergeCache {
	return &mergeCache{windowMs: windowMs, limit: limit, series: map[string]*cachedSeries{}}
}

// merge adds the remembered entries of a bucket to b, keeping the newest of each signal.
func (c *mergeCache) merge(b *bucket) {
	if c == nil || c.windowMs <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series[b.series]
	if s == nil {
		return
	}
	for _, e := range s.buckets[b.startMs] {
		b.add(e)
	}
}

// remember records entries as written to the bucket at startMs of series.
func (c *mergeCache) remember(series string, startMs int64, entries []*entry) {
	if c == nil || c.windowMs <= 0 || len(entries) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series[series]
	if s == nil {
		s = &cachedSeries{newestMs: startMs, buckets: map[int64]map[string]*entry{}}
		c.series[series] = s
	}
	if startMs < s.newestMs-c.windowMs {
		return // older than the window: nothing will merge with it
	}
	bk := s.buckets[startMs]
	if bk == nil {
		bk = map[string]*entry{}
		s.buckets[startMs] = bk
		c.held++
	}
	for _, e := range entries {
		if old, ok := bk[e.signal]; !ok || e.newer(old) {
			bk[e.signal] = e
		}
	}
	if startMs > s.newestMs {
		s.newestMs = startMs
		for start := range s.buckets {
			if start < s.newestMs-c.windowMs {
				delete(s.buckets, start)
				c.held--
			}
		}
	}
	if c.held > c.limit {
		c.shrink()
	}
}

// shrink drops the series whose newest bucket is oldest until a quarter of the limit is free.
func (c *mergeCache) shrink() {
	type aged struct {
		key    string
		newest int64
	}
	all := make([]aged, 0, len(c.series))
	for k, s := range c.series {
		all = append(all, aged{k, s.newestMs})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].newest < all[j].newest })
	for _, a := range all {
		if c.held <= c.limit*3/4 {
			return
		}
		c.held -= len(c.series[a.key].buckets)
		delete(c.series, a.key)
	}
}

// len reports the buckets held.
func (c *mergeCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}
