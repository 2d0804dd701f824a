package topology

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
)

type iterStep struct {
	Key, Value string
	More       bool
}

func walk(t *testing.T, it storage.Iterator, seek []byte) []iterStep {
	t.Helper()
	var out []iterStep
	if seek != nil {
		out = append(out, iterStep{More: it.Seek(seek)})
		if !out[0].More {
			return out
		}
		v, _ := it.Value()
		out = append(out, iterStep{Key: string(it.Key()), Value: string(v), More: true})
	}
	for it.Next() {
		v, _ := it.Value()
		out = append(out, iterStep{Key: string(it.Key()), Value: string(v), More: true})
	}
	v, _ := it.Value()
	out = append(out, iterStep{Key: string(it.Key()), Value: string(v)})
	it.Release()
	return out
}

// TestMemoryStorageIsGokas runs random operations against goka's in-memory storage and ours
// and compares every answer, iterators included.
func TestMemoryStorageIsGokas(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	key := func() string { return fmt.Sprintf("k%02d", r.IntN(40)) }
	for run := 0; run < 20; run++ {
		want := storage.NewMemory()
		got, _ := memoryStorageBuilder()("t", 0)
		for op := 0; op < 400; op++ {
			switch r.IntN(9) {
			case 0, 1, 2:
				k, v := key(), []byte(fmt.Sprint(op))
				if r.IntN(20) == 0 {
					v = nil
				}
				if e1, e2 := want.Set(k, v), got.Set(k, v); (e1 == nil) != (e2 == nil) {
					t.Fatalf("Set(%q, %q): goka %v, ours %v", k, v, e1, e2)
				}
			case 3:
				k := key()
				_, _ = want.Delete(k), got.Delete(k)
			case 4:
				k := key()
				h1, _ := want.Has(k)
				h2, _ := got.Has(k)
				g1, _ := want.Get(k)
				g2, _ := got.Get(k)
				if h1 != h2 || string(g1) != string(g2) || (g1 == nil) != (g2 == nil) {
					t.Fatalf("Has/Get(%q): goka %v %q, ours %v %q", k, h1, g1, h2, g2)
				}
			case 5:
				o := r.Int64N(100)
				_, _ = want.SetOffset(o), got.SetOffset(o)
			case 6:
				o1, _ := want.GetOffset(-7)
				o2, _ := got.GetOffset(-7)
				if o1 != o2 {
					t.Fatalf("GetOffset: goka %d, ours %d", o1, o2)
				}
			case 7:
				var seek []byte
				if r.IntN(2) == 0 {
					seek = []byte(key()[:1+r.IntN(2)])
				}
				i1, _ := want.Iterator()
				i2, _ := got.Iterator()
				if w, g := walk(t, i1, seek), walk(t, i2, seek); !reflect.DeepEqual(w, g) {
					t.Fatalf("Iterator (seek %q): goka %v, ours %v", seek, w, g)
				}
			case 8:
				start, limit := []byte(key()), []byte(key())
				if r.IntN(3) == 0 {
					start, limit = []byte(key()[:2]), nil
				}
				i1, _ := want.IteratorWithRange(start, limit)
				i2, _ := got.IteratorWithRange(start, limit)
				if w, g := walk(t, i1, nil), walk(t, i2, nil); !reflect.DeepEqual(w, g) {
					t.Fatalf("IteratorWithRange(%q, %q): goka %v, ours %v", start, limit, w, g)
				}
			}
		}
	}
}

// TestMemoryStorageLoadsManyKeys: a partition of 200 000 new keys loads in linear time (goka's
// own memory storage sorts all keys again for each new one).
func TestMemoryStorageLoadsManyKeys(t *testing.T) {
	st, _ := memoryStorageBuilder()("vehicle-state-table", 0)
	start := time.Now()
	v := []byte("{}")
	for i := 0; i < 200_000; i++ {
		if err := st.Set(fmt.Sprintf("VIN%014d", (i*7919)%200_000), v); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("200 000 keys took %s", d)
	}
	it, _ := st.Iterator()
	n := 0
	for it.Next() {
		n++
	}
	if n != 200_000 {
		t.Errorf("iterated %d keys", n)
	}
}
