package engine

import (
	"fmt"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
)

// The model: what both sides should hold after a sync, written from the
// rules of DESIGN.md and the policies alone. It imports nothing from the
// engine's policy code; it only knows what users did since the last sync.

type mside int

const (
	crmSide mside = iota
	mailSide
)

type modelItem struct {
	name, owner string
	exists      [2]bool
	fields      map[string]string // job_title, department: the agreed content
	// since the last sync:
	created  [2]bool
	deleted  [2]bool
	edits    [2]map[string]string
	lastEdit [2]int // order of the side's last edit, for newest_wins and merge
	dormant  bool   // in the CRM only, after a mailbox delete that untracked it
}

type model struct {
	conflict, fromMailbox string
	items                 []*modelItem
	clock                 int
}

func (m *model) live(s mside) []*modelItem {
	var out []*modelItem
	for _, it := range m.items {
		if it.exists[s] {
			out = append(out, it)
		}
	}
	return out
}

// sync is what both sides must hold after the gateway ran.
func (m *model) sync() {
	for _, it := range m.items {
		content := func(s mside) map[string]string {
			out := map[string]string{}
			for k, v := range it.fields {
				out[k] = v
			}
			for k, v := range it.edits[s] {
				out[k] = v
			}
			return out
		}
		crmEdited, mailEdited := it.edits[crmSide] != nil, it.edits[mailSide] != nil
		switch {
		case it.created[crmSide] || it.created[mailSide]:
			s := crmSide
			if it.created[mailSide] {
				s = mailSide
			}
			if it.deleted[s] {
				it.exists = [2]bool{}
			} else {
				it.fields, it.exists = content(s), [2]bool{true, true}
			}
		case it.deleted[crmSide] && it.deleted[mailSide]:
			it.exists = [2]bool{}
		case it.deleted[crmSide]:
			if mailEdited { // an edit outlives a delete
				it.fields, it.exists = content(mailSide), [2]bool{true, true}
			} else {
				it.exists = [2]bool{}
			}
		case it.deleted[mailSide]:
			switch {
			case crmEdited:
				it.fields, it.exists, it.dormant = content(crmSide), [2]bool{true, true}, false
			case m.fromMailbox == "untrack":
				it.fields, it.exists, it.dormant = content(crmSide), [2]bool{true, false}, true
			default:
				it.exists = [2]bool{}
			}
		case it.dormant:
			if crmEdited { // the CRM's next change brings it back
				it.fields, it.exists, it.dormant = content(crmSide), [2]bool{true, true}, false
			}
		case crmEdited && mailEdited:
			newer := crmSide
			if it.lastEdit[mailSide] > it.lastEdit[crmSide] {
				newer = mailSide
			}
			switch m.conflict {
			case "crm_wins":
				it.fields = content(crmSide)
			case "mailbox_wins":
				it.fields = content(mailSide)
			case "newest_wins":
				it.fields = content(newer)
			case "merge":
				merged := content(crmSide)
				for k, v := range it.edits[mailSide] {
					if _, both := it.edits[crmSide][k]; !both || newer == mailSide {
						merged[k] = v
					}
				}
				it.fields = merged
			}
		case crmEdited:
			it.fields = content(crmSide)
		case mailEdited:
			it.fields = content(mailSide)
		}
		it.created, it.deleted, it.edits = [2]bool{}, [2]bool{}, [2]map[string]string{}
	}
}

// TestModel drives the gateway with random user actions on both sides,
// random policies and restarts, and after every sync compares both sides
// with the model: same items, once each, same content.
func TestModel(t *testing.T) {
	if testing.Short() {
		t.Skip("model-based test")
	}
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{
			conflict:    rapid.SampledFrom([]string{"crm_wins", "mailbox_wins", "newest_wins", "merge"}).Draw(rt, "conflict"),
			fromMailbox: rapid.SampledFrom([]string{"propagate", "untrack"}).Draw(rt, "from_mailbox"),
		}
		w := newWorld(t, fmt.Sprintf(`
policy "contact" {
  conflict = %q
  tracking {
    mode = "all"
  }
  operation "delete" {
    direction = "bidirectional"
  }
  deletes {
    from_mailbox     = %q
    max_delete_share = 1
  }
}`, m.conflict, m.fromMailbox))
		defer w.close()
		users := []string{alice, bob}
		stores := [2]*dirconnector.Store{w.crm, w.mail}
		find := func(s mside, it *modelItem) dirconnector.Item {
			scope := it.owner
			for _, x := range w.items(stores[s], scope, "contact") {
				if x.Fields["surname"].Str() == it.name {
					return x
				}
			}
			rt.Fatalf("%s not found on side %d", it.name, s)
			return dirconnector.Item{}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"create": func(rt *rapid.T) {
				s := mside(rapid.IntRange(0, 1).Draw(rt, "side"))
				owner := rapid.SampledFrom(users).Draw(rt, "owner")
				it := &modelItem{name: fmt.Sprintf("n%03d", len(m.items)), owner: owner, fields: map[string]string{}}
				it.exists[s], it.created[s] = true, true
				if _, err := stores[s].Create(owner, "contact", "", sdk.Fields{"surname": sdk.String(it.name)}); err != nil {
					rt.Fatal(err)
				}
				m.items = append(m.items, it)
			},
			"edit": func(rt *rapid.T) {
				s := mside(rapid.IntRange(0, 1).Draw(rt, "side"))
				live := m.live(s)
				if len(live) == 0 {
					rt.Skip("nothing to edit")
				}
				it := rapid.SampledFrom(live).Draw(rt, "item")
				field := rapid.SampledFrom([]string{"job_title", "department"}).Draw(rt, "field")
				m.clock++
				value := fmt.Sprintf("v%d", m.clock)
				cur := find(s, it)
				f := cur.Fields.Clone()
				f[field] = sdk.String(value)
				if _, err := stores[s].Update(it.owner, "contact", cur.ID, cur.Version, f); err != nil {
					rt.Fatal(err)
				}
				if it.edits[s] == nil {
					it.edits[s] = map[string]string{}
				}
				it.edits[s][field], it.lastEdit[s] = value, m.clock
			},
			"delete": func(rt *rapid.T) {
				s := mside(rapid.IntRange(0, 1).Draw(rt, "side"))
				live := m.live(s)
				if len(live) == 0 {
					rt.Skip("nothing to delete")
				}
				it := rapid.SampledFrom(live).Draw(rt, "item")
				if err := stores[s].Delete(it.owner, "contact", find(s, it).ID, ""); err != nil {
					rt.Fatal(err)
				}
				it.exists[s], it.deleted[s] = false, true
			},
			"sync": func(rt *rapid.T) {
				w.sync()
				m.sync()
				w.check(rt, m, users)
			},
			"restart": func(rt *rapid.T) {
				w.newEngine(nil)
			},
		})
		w.sync()
		m.sync()
		w.check(rt, m, users)
	})
}

// check compares both sides with the model.
func (w *world) check(rt *rapid.T, m *model, users []string) {
	for _, who := range users {
		for s, st := range [2]*dirconnector.Store{w.crm, w.mail} {
			want := map[string]map[string]string{}
			for _, it := range m.items {
				if it.owner == who && it.exists[s] {
					want[it.name] = it.fields
				}
			}
			got := map[string]map[string]string{}
			for _, x := range w.items(st, who, "contact") {
				name := x.Fields["surname"].Str()
				if _, dup := got[name]; dup {
					rt.Fatalf("%s: %q twice on side %d: a duplicate", who, name, s)
				}
				f := map[string]string{}
				for _, k := range []string{"job_title", "department"} {
					if v := x.Fields[k].Str(); v != "" {
						f[k] = v
					}
				}
				got[name] = f
			}
			if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
				rt.Fatalf("%s, side %d (0 = CRM, 1 = mailbox), conflict %s, from_mailbox %s:\n got %v\nwant %v",
					who, s, m.conflict, m.fromMailbox, sorted(got), sorted(want))
			}
		}
	}
}

func sorted(m map[string]map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s%v", k, v))
	}
	sort.Strings(out)
	return out
}
