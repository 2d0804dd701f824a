package timestream

import (
	"sort"
	"strconv"

	"github.com/fleetstream/fleetstream/codecs"
)

// WriteUnitBytes is the unit Timestream for LiveAnalytics bills writes in.
const WriteUnitBytes = 1024

// Cost is what writing a set of measurements costs, the way this backend writes them and the
// naive way. See README ("Cost model") for the formula.
type Cost struct {
	// Measurements is the input; Skipped of them cannot be written (no value, bad name, …) and
	// Superseded are older values of a signal that a newer one in the same bucket replaces.
	Measurements int
	Skipped      int
	Superseded   int
	// Requests is the number of WriteRecords calls, Records the multi-measure records and
	// Measures the measure values they hold.
	Requests          int
	Records           int
	Measures          int
	MeasuresPerRecord float64
	// Bytes is the metered size of all requests; WriteUnits the billed 1 KiB units, each
	// request rounded up on its own.
	Bytes      int64
	WriteUnits int64
	// Naive is the same data written one single-measure record per measure value.
	Naive NaiveCost
}

// NaiveCost is the one-record-per-measurement way of writing.
type NaiveCost struct {
	// Records is one single-measure record per measure value (a location is two).
	Records int
	// Requests and WriteUnits: one WriteRecords call per record, each rounded up to 1 KiB.
	Requests   int
	WriteUnits int64
	// BatchedRequests and BatchedWriteUnits: the same records sent 100 to a request in input
	// order.
	BatchedRequests   int
	BatchedWriteUnits int64
}

// Saving is the fraction of write units multi-measure batching saves over naive batched
// writes (0.9 = a tenth of the cost).
func (c Cost) Saving() float64 {
	if c.Naive.BatchedWriteUnits == 0 {
		return 0
	}
	return 1 - float64(c.WriteUnits)/float64(c.Naive.BatchedWriteUnits)
}

// EstimateCost computes, without any I/O, the requests, records and billed write units of
// writing ms to the measurements table with cfg (defaults applied; Database is not needed),
// against the naive one-record-per-measurement approach. It assumes every bucket is written
// once, in requests of cfg.MaxRecordsPerRequest records: a bucket whose measurements arrive
// in several batches is rewritten by the backend and costs once more each time.
func EstimateCost(ms []codecs.Measurement, cfg Config) Cost {
	cfg = cfg.WithDefaults()
	conv := newConverter(cfg)
	dimNames := conv.dimNames()
	cost := Cost{Measurements: len(ms)}

	buckets := map[string]*bucket{}
	var naive []*tsRecord
	writable := 0
	for i := range ms {
		m := &ms[i]
		e, err := conv.entryOf(m, int64(i), dimNames)
		if err != nil {
			cost.Skipped++
			continue
		}
		writable++
		dims, series := conv.seriesOf(m)
		for _, mv := range e.measures {
			r := &tsRecord{dims: dims, measureName: mv.name, measures: []measure{{typ: mv.typ, value: mv.value}}}
			r.bytes = recordBytes(r)
			naive = append(naive, r)
		}
		start := conv.bucketStart(m.Time)
		key := series + strconv.FormatInt(start, 10)
		bk := buckets[key]
		if bk == nil {
			bk = newBucket(series, dims, start)
			buckets[key] = bk
		}
		bk.add(e)
	}

	var recs []*tsRecord
	cost.Superseded = writable
	for _, bk := range buckets {
		cost.Superseded -= len(bk.entries)
		parts, tooWide := conv.bucketRecords(bk)
		cost.Skipped += len(tooWide)
		recs = append(recs, parts...)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].identity() < recs[j].identity() })
	cost.Records = len(recs)
	for _, r := range recs {
		cost.Measures += len(r.measures)
	}
	if cost.Records > 0 {
		cost.MeasuresPerRecord = float64(cost.Measures) / float64(cost.Records)
	}
	cost.Requests, cost.Bytes, cost.WriteUnits = requestsCost(recs, cfg.MaxRecordsPerRequest)

	cost.Naive.Records = len(naive)
	cost.Naive.Requests = len(naive)
	for _, r := range naive {
		cost.Naive.WriteUnits += writeUnits(int64(r.bytes))
	}
	cost.Naive.BatchedRequests, _, cost.Naive.BatchedWriteUnits = requestsCost(naive, MaxRecordsPerRequest)
	return cost
}

// requestsCost splits records into requests of per records and meters them: per record 8
// bytes of time, its measure name and measures; per request each distinct dimension once
// (Timestream charges repeated dimensions of a batched request once); each request rounded up
// to whole 1 KiB write units.
func requestsCost(recs []*tsRecord, per int) (requests int, bytes, units int64) {
	for start := 0; start < len(recs); start += per {
		chunk := recs[start:min(start+per, len(recs))]
		var n int64
		seen := map[dim]bool{}
		for _, r := range chunk {
			n += int64(r.bytes - dimsBytes(r.dims))
			for _, d := range r.dims {
				if !seen[d] {
					seen[d] = true
					n += int64(len(d.name) + len(d.value))
				}
			}
		}
		requests++
		bytes += n
		units += writeUnits(n)
	}
	return requests, bytes, units
}

func writeUnits(bytes int64) int64 { return (bytes + WriteUnitBytes - 1) / WriteUnitBytes }
