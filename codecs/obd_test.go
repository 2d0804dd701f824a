package codecs

import (
	"sort"
	"testing"
)

func TestClassifyDTC(t *testing.T) {
	tests := []struct {
		code    string
		system  string
		generic bool
	}{
		{"P0217", SystemPowertrain, true},
		{"p0300", SystemPowertrain, true},
		{"P1234", SystemPowertrain, false},
		{"P2096", SystemPowertrain, true},
		{"P3000", SystemPowertrain, false},
		{"C0035", SystemChassis, true},
		{"B1000", SystemBody, false},
		{"U0100", SystemNetwork, true},
		{"X0100", "", false},
		{"P4000", "", false},
		{"P01", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			system, generic := ClassifyDTC(tc.code)
			if system != tc.system || generic != tc.generic {
				t.Errorf("ClassifyDTC(%q) = %q, %v; want %q, %v", tc.code, system, generic, tc.system, tc.generic)
			}
		})
	}
}

func TestDescribeDTC(t *testing.T) {
	for _, code := range []string{"P0217", "P0218", "P0524", "P0300", "P0301", "P0304", "P0404", "P0420", "P0171", "P0128"} {
		if d, ok := DescribeDTC(code); !ok || d == "" {
			t.Errorf("DescribeDTC(%q) = %q, %v; want a description", code, d, ok)
		}
	}
	if d, ok := DescribeDTC("p0217"); !ok || d != "Engine Coolant Over Temperature Condition" {
		t.Errorf("DescribeDTC(lower case) = %q, %v", d, ok)
	}
	if _, ok := DescribeDTC("P1FFF"); ok {
		t.Error("DescribeDTC(P1FFF) found a description for a code not in the table")
	}
}

func TestKnownDTCCodes(t *testing.T) {
	codes := KnownDTCCodes()
	if len(codes) < 60 || len(codes) > 100 {
		t.Errorf("table holds %d codes, want 60-100", len(codes))
	}
	if !sort.StringsAreSorted(codes) {
		t.Error("KnownDTCCodes is not sorted")
	}
	for _, code := range codes {
		if !ValidDTCCode(code) {
			t.Errorf("table code %q is not a valid OBD-II code", code)
		}
		if system, _ := ClassifyDTC(code); system == "" {
			t.Errorf("table code %q has no system", code)
		}
	}
	codes[0] = "mutated"
	if KnownDTCCodes()[0] == "mutated" {
		t.Error("KnownDTCCodes returned shared storage")
	}
}
