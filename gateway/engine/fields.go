package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/syncgate/syncgate/gateway/policy"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// flows reports whether direction d lets changes flow from side from.
func flows(d manifest.Direction, from store.Side) bool {
	if from == store.SideMailbox {
		return d.ToCRM()
	}
	return d.ToMailbox()
}

// hashFields is the content hash of a field set: equal content, equal hash,
// whatever the versions say. Nulls are left out (a missing field and a null
// field are the same).
func hashFields(f sdk.Fields) string {
	clean := make(map[string]sdk.Value, len(f))
	for k, v := range f {
		if !v.IsNull() {
			clean[k] = v
		}
	}
	b, _ := json.Marshal(clean) // map keys are sorted by encoding/json
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// changed lists the fields, of those that may flow from side from, whose
// value in now differs from base.
func changed(rule *policy.Rule, from store.Side, base, now sdk.Fields) []string {
	var out []string
	for _, k := range unionKeys(base, now) {
		if flows(rule.FieldDirection(k), from) && !base[k].Equal(now[k]) {
			out = append(out, k)
		}
	}
	return out
}

// patch returns the fields of want that may flow from side from and differ
// from have, with explicit nulls for fields want no longer has.
func patch(rule *policy.Rule, from store.Side, want, have sdk.Fields) sdk.Fields {
	out := sdk.Fields{}
	for _, k := range unionKeys(want, have) {
		if flows(rule.FieldDirection(k), from) && !want[k].Equal(have[k]) {
			out[k] = want[k]
		}
	}
	return out
}

// flowing keeps the fields of f that may flow from side from.
func flowing(rule *policy.Rule, from store.Side, f sdk.Fields) sdk.Fields {
	out := sdk.Fields{}
	for k, v := range f {
		if flows(rule.FieldDirection(k), from) && !v.IsNull() {
			out[k] = v
		}
	}
	return out
}

// overlay returns base with p applied.
func overlay(base, p sdk.Fields) sdk.Fields {
	out := base.Clone()
	for k, v := range p {
		if v.IsNull() {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func unionKeys(a, b sdk.Fields) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, m := range []sdk.Fields{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// tracked reports whether a mailbox item may enter the CRM under the rule's
// tracking policy.
func tracked(rule *policy.Rule, f sdk.Fields) bool {
	switch rule.Tracking.Mode.Value {
	case "all":
		return true
	case "category":
		for _, c := range f["categories"].ListVal() {
			if c.Str() == rule.Tracking.Value.Value {
				return true
			}
		}
		return false
	case "folder":
		return f["folder"].Str() == rule.Tracking.Value.Value
	}
	return false
}
