package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Latency is one direction's change latency: from an edit's API call
// returning on one side to the edited value being readable on the other.
type Latency struct {
	Direction     string
	Via           string
	Edits, Lost   int // lost: not seen within the timeout
	Throttled     int // 429 answers of both emulators meanwhile
	P50, P95, P99 time.Duration
}

// pollEvery is how often the bench reads the other side while it waits for
// an edit: the resolution of the figures.
const pollEvery = 20 * time.Millisecond

// latencyWorkers is how many edits are in flight at once. Edits k and k+1
// go to different bindings, so each binding has at most one.
const latencyWorkers = 8

// editTimeout is how long an edit may take to arrive before it counts as
// lost.
const editTimeout = 2 * time.Minute

// pair is one synced contact: its CRM row and its mailbox copy.
type pair struct {
	crmID, owner, mailbox, graphID string
}

// contactPairs matches the seeded contacts with their mailbox copies by
// name, in seeding order.
func contactPairs(ctx context.Context, b *backends, contacts int) ([]pair, error) {
	byName := map[string]*pair{}
	next := "/contacts?$select=contactid,lastname,_ownerid_value"
	for next != "" {
		var page struct {
			Value []struct {
				ID    string `json:"contactid"`
				Name  string `json:"lastname"`
				Owner string `json:"_ownerid_value"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := b.crm.do(ctx, "", "GET", next, map[string]string{"Prefer": "odata.maxpagesize=5000"}, nil, &page); err != nil {
			return nil, fmt.Errorf("list CRM contacts: %w", err)
		}
		for _, r := range page.Value {
			byName[r.Name] = &pair{crmID: r.ID, owner: r.Owner, mailbox: b.owners[r.Owner]}
		}
		next = page.NextLink
	}
	for _, mb := range b.users {
		next := "/users/" + url.PathEscape(mb) + "/contacts?$select=id,surname"
		for next != "" {
			var page struct {
				Value []struct {
					ID      string `json:"id"`
					Surname string `json:"surname"`
				} `json:"value"`
				NextLink string `json:"@odata.nextLink"`
			}
			if err := b.graph.do(ctx, mb, "GET", next, map[string]string{"Prefer": "odata.maxpagesize=1000"}, nil, &page); err != nil {
				return nil, fmt.Errorf("list %s's contacts: %w", mb, err)
			}
			for _, r := range page.Value {
				if p := byName[r.Surname]; p != nil && p.mailbox == mb {
					p.graphID = r.ID
				}
			}
			next = page.NextLink
		}
	}
	out := make([]pair, 0, contacts)
	for i := range contacts {
		p := byName[contactName(i)]
		if p == nil || p.graphID == "" {
			return nil, fmt.Errorf("contact %s has no copy in its owner's mailbox after the initial sync", contactName(i))
		}
		out = append(out, *p)
	}
	return out, nil
}

// measureLatency makes edits single edits of a contact's job title on one
// side and times each until the other side reads it. Mailbox edits use
// the even contacts and CRM edits the odd ones, so no edit meets another.
//
// Each edit waits a random time below jitter first: a worker starts its
// next edit right after the last one arrived, that is right after a poll,
// and without the wait every edit would meet the poll at the same phase.
func measureLatency(ctx context.Context, b *backends, pairs []pair, edits int, mailboxToCRM bool, jitter time.Duration) Latency {
	l := Latency{Direction: "CRM → mailbox", Edits: edits}
	if mailboxToCRM {
		l.Direction = "mailbox → CRM"
	}
	stamp := time.Now().UnixMilli()
	var mu sync.Mutex
	var took []time.Duration
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range latencyWorkers {
		wg.Go(func() {
			for k := range jobs {
				i := 2 * k
				if !mailboxToCRM {
					i++
				}
				p := pairs[i%len(pairs)]
				select {
				case <-ctx.Done():
				case <-time.After(rand.N(jitter)):
				}
				d, err := oneEdit(ctx, b, p, fmt.Sprintf("e%d-%d-%d", stamp, i, k), mailboxToCRM)
				mu.Lock()
				if err != nil {
					l.Lost++
				} else {
					took = append(took, d)
				}
				mu.Unlock()
			}
		})
	}
	for k := range edits {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	l.P50, l.P95, l.P99 = percentile(took, 50), percentile(took, 95), percentile(took, 99)
	return l
}

func oneEdit(ctx context.Context, b *backends, p pair, value string, mailboxToCRM bool) (time.Duration, error) {
	graphPath := "/users/" + url.PathEscape(p.mailbox) + "/contacts/" + url.PathEscape(p.graphID)
	crmPath := "/contacts(" + p.crmID + ")"
	var err error
	if mailboxToCRM {
		err = b.graph.do(ctx, p.mailbox, "PATCH", graphPath, nil, map[string]any{"jobTitle": value}, nil)
	} else {
		err = b.crm.do(ctx, p.owner, "PATCH", crmPath, nil, map[string]any{"jobtitle": value}, nil)
	}
	if err != nil {
		return 0, err
	}
	edited := time.Now()
	for time.Since(edited) < editTimeout {
		var got struct {
			Graph string `json:"jobTitle"`
			CRM   string `json:"jobtitle"`
		}
		if mailboxToCRM {
			err = b.crm.do(ctx, p.owner, "GET", crmPath+"?$select=jobtitle", nil, nil, &got)
		} else {
			err = b.graph.do(ctx, p.mailbox, "GET", graphPath+"?$select=jobTitle", nil, nil, &got)
		}
		if err != nil {
			return 0, err
		}
		if got.Graph == value || got.CRM == value {
			return time.Since(edited), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	return 0, fmt.Errorf("edit %s not seen within %s", value, editTimeout)
}

// percentile is the nearest-rank percentile; 0 for no values.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}
