package sdktest

import (
	"strings"
	"testing"

	"github.com/syncgate/syncgate/sdk"
)

func TestSamplesAreValidAndDistinct(t *testing.T) {
	for _, entity := range sdk.Entities() {
		a, b := Sample(entity, 1), Sample(entity, 2)
		if len(a) == 0 {
			t.Errorf("%s: no sample", entity)
		}
		for _, f := range []sdk.Fields{a, b, Change(entity, a)} {
			if ds := sdk.Validate(entity, f); ds.HasErrors() {
				t.Errorf("%s: sample does not fit the canonical schema: %v", entity, ds.Err())
			}
		}
		if a.Equal(b) {
			t.Errorf("%s: samples 1 and 2 are equal", entity)
		}
		if c := Change(entity, a); c.Equal(a) || !Sample(entity, 1).Equal(a) {
			t.Errorf("%s: Change made no visible change, or modified its input", entity)
		}
	}
}

func TestFirstDifference(t *testing.T) {
	for _, tc := range []struct{ got, want, has string }{
		{"a\nb\n", "a\nc\n", `line 2: embedded "b", file "c"`},
		{"a\n", "a\nb\n", `line 2: embedded "", file "b"`},
		{"a\r\n", "a\n", `line 1`},
	} {
		if d := firstDifference([]byte(tc.got), []byte(tc.want)); !strings.Contains(d, tc.has) {
			t.Errorf("firstDifference(%q, %q) = %q, want it to contain %q", tc.got, tc.want, d, tc.has)
		}
	}
}
