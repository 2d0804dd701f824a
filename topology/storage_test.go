package topology

import (
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
)

func openLevelDB(t *testing.T, dir string) storage.Storage {
	t.Helper()
	st, err := lazyOffsetStorage(storage.DefaultBuilder(dir))("vehicle-state-table", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLazyOffsets: after recovery the offset reaches LevelDB at most every offsetSyncInterval,
// and the newest one on Close, so a restart resumes from it.
func TestLazyOffsets(t *testing.T) {
	dir := t.TempDir()
	st := openLevelDB(t, dir)
	for o := int64(1); o <= 10; o++ { // recovering: goka keeps it in memory
		if err := st.SetOffset(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkRecovered(); err != nil { // goka writes the recovered offset
		t.Fatal(err)
	}
	for o := int64(11); o <= 1000; o++ {
		if err := st.Set("VIN", []byte{byte(o)}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetOffset(o); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.GetOffset(-1); err != nil || got != 10 {
		t.Errorf("stored offset within the interval = %d, %v; want 10 (written at recovery)", got, err)
	}
	st.(*lazyOffsets).written = time.Now().Add(-offsetSyncInterval)
	if err := st.SetOffset(1001); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetOffset(-1); got != 1001 {
		t.Errorf("stored offset after the interval = %d, want 1001", got)
	}
	if err := st.SetOffset(1002); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openLevelDB(t, dir)
	defer st.Close()
	if got, err := st.GetOffset(-1); err != nil || got != 1002 {
		t.Errorf("offset after reopening = %d, %v; want 1002", got, err)
	}
	if v, err := st.Get("VIN"); err != nil || len(v) != 1 || v[0] != byte(1000%256) {
		t.Errorf("value after reopening = %v, %v", v, err)
	}
}
