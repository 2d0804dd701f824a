package codecs

import "sort"

// sortSignals orders a tick's signals by name so decoding is deterministic.
func sortSignals(s []Signal) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}
