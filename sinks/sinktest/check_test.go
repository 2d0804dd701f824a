package sinktest

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/sinks"
)

// The checker itself: it must catch each way a destination can get delivery wrong.
func TestCompareCatchesEveryProblem(t *testing.T) {
	at := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	recs := Place(append(Dataset{Vehicles: 1, Ticks: 1, Start: at}.Records(), Versions(VIN(0), 3, at.Add(time.Hour))...), 1, 0)
	var good []Item
	for _, r := range recs {
		items, err := ItemsOf(r)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, items...)
	}
	if p, facts, err := Compare(good, recs, nil); err != nil || len(p) != 0 || facts != 7 {
		t.Fatalf("all versions in order: problems %v, facts %d, err %v", p, facts, err)
	}
	n := len(good)
	mangled := append([]Item{}, good...)
	mangled[0].Value += "x"
	for _, tc := range []struct {
		name   string
		stored []Item
		skip   func(sinks.Record) bool
		want   string
	}{
		{"duplicate", append(append([]Item{}, good...), good[1]), nil, "held twice"},
		{"missing", good[1:], nil, "missing"},
		{"mangled", mangled, nil, "mangled"},
		{"out of order", append(append([]Item{}, good[:n-2]...), good[n-1], good[n-2]), nil, "out of order"},
		{"refused but stored", good, func(r sinks.Record) bool { return r.Offset == 0 }, "not written"},
	} {
		p, _, err := Compare(tc.stored, recs, tc.skip)
		if err != nil || len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s: problems %v (err %v), want %q", tc.name, p, err, tc.want)
		}
	}
}
