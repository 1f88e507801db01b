package exchange

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// cursorState is what a feed's cursor holds: the delta link of the round
// that ended, and what the link depends on. A delta link alone would do for
// Graph, but the mailbox and feed make a cursor handed to the wrong feed a
// resync instead of a silent mix-up, and the window day tells when the
// calendar window must move.
type cursorState struct {
	V       int    `json:"v"`
	Feed    string `json:"feed"`
	Mailbox string `json:"mailbox"`
	Link    string `json:"link"`
	Day     string `json:"day,omitempty"` // calendar: the first day of the window
}

const cursorVersion = 1

func encodeCursor(s cursorState) sdk.Cursor {
	s.V = cursorVersion
	b, _ := json.Marshal(s)
	return b
}

// decodeCursor reads a cursor of feed; anything else is resync_required,
// since a cursor that does not parse cannot be resumed.
func decodeCursor(c sdk.Cursor, feed sdk.Feed) (cursorState, error) {
	var s cursorState
	if err := json.Unmarshal(c, &s); err != nil || s.V != cursorVersion || s.Link == "" {
		return s, sdk.NewError(sdk.ErrResyncRequired, "the cursor of feed %s is not one this connector issued: the feed is enumerated again", feed)
	}
	if s.Feed != feed.Name || !strings.EqualFold(s.Mailbox, feed.Scope) {
		return s, sdk.NewError(sdk.ErrResyncRequired, "the cursor belongs to feed %s/%s, not %s: the feed is enumerated again", s.Feed, s.Mailbox, feed)
	}
	return s, nil
}

// deltaEntry is one entry of a delta page: the item's raw JSON plus what
// every entry has.
type deltaEntry struct {
	ID      string
	Removed bool // an @removed entry: deleted, or (calendar) out of the window
	Raw     json.RawMessage
}

type deltaPage struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
}

type entryHead struct {
	ID      string          `json:"id"`
	Removed json.RawMessage `json:"@removed"`
}

// runDelta walks one delta round from start (the original query or a
// stored delta link) to its delta link, following every nextLink, empty
// pages included. An item seen several times in a round is reported once,
// as its last entry says. A round longer than maxPages, or a page that
// repeats an earlier page of the round, is an error: Graph looping on a
// skip token must not loop the connector.
func (g *graphClient) runDelta(ctx context.Context, mailbox, start string, pageSize, maxPages int) ([]deltaEntry, string, error) {
	var (
		entries []deltaEntry
		index   = map[string]int{}
		seen    = map[string]int{} // page content hash → page number
		links   = map[string]bool{}
	)
	link := start
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, "", sdk.NewError(sdk.ErrRetryable, "the delta round of mailbox %s did not end within %d pages (max_delta_pages): Graph kept answering with nextLinks", mailbox, maxPages)
		}
		if links[link] {
			return nil, "", sdk.NewError(sdk.ErrRetryable, "the delta round of mailbox %s sent the same nextLink twice (page %d): the round is abandoned and starts again from the stored cursor", mailbox, page)
		}
		links[link] = true
		var p deltaPage
		if _, err := g.do(ctx, call{method: "GET", path: link, mailbox: mailbox, prefer: []string{"odata.maxpagesize=" + strconv.Itoa(pageSize)}}, &p); err != nil {
			return nil, "", err
		}
		if len(p.Value) > 0 {
			sum := sha256.New()
			for _, v := range p.Value {
				sum.Write(v)
				sum.Write([]byte{0})
			}
			h := hex.EncodeToString(sum.Sum(nil))
			if prev, ok := seen[h]; ok {
				return nil, "", sdk.NewError(sdk.ErrRetryable, "page %d of the delta round of mailbox %s repeats page %d: the round is abandoned and starts again from the stored cursor", page, mailbox, prev)
			}
			seen[h] = page
		}
		for _, raw := range p.Value {
			var head entryHead
			if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
				return nil, "", sdk.NewError(sdk.ErrRetryable, "page %d of the delta round of mailbox %s has an entry without an id: %s", page, mailbox, truncate(string(raw), 200))
			}
			e := deltaEntry{ID: head.ID, Removed: len(head.Removed) > 0 && string(head.Removed) != "null", Raw: raw}
			if i, ok := index[head.ID]; ok {
				entries[i] = e
				continue
			}
			index[head.ID] = len(entries)
			entries = append(entries, e)
		}
		switch {
		case p.DeltaLink != "":
			return entries, p.DeltaLink, nil
		case p.NextLink == "":
			return nil, "", sdk.NewError(sdk.ErrRetryable, "page %d of the delta round of mailbox %s has neither @odata.nextLink nor @odata.deltaLink", page, mailbox)
		}
		link = p.NextLink
	}
}

// rounds keeps the change records of delta rounds that GetSyncData has
// started to hand out page by page. A Graph round is walked whole before
// its first page is returned (that is the only way to coalesce an item seen
// on several pages); the gateway then takes it in pages of its own size.
type rounds struct {
	mu sync.Mutex
	m  map[string]*round
}

type round struct {
	records []sdk.ChangeRecord
	cursor  sdk.Cursor
	feed    sdk.Feed
	created time.Time
}

// roundTTL bounds how long an unfinished round is kept for its next page.
const roundTTL = 30 * time.Minute

func (r *rounds) put(rd *round) string {
	b := make([]byte, 12)
	rand.Read(b)
	id := hex.EncodeToString(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*round{}
	}
	for k, old := range r.m {
		if time.Since(old.created) > roundTTL {
			delete(r.m, k)
		}
	}
	r.m[id] = rd
	return id
}

// page returns records [offset, offset+max) of a round and the token of the
// page after, dropping the round once its last page is out.
func (r *rounds) page(token []byte, feed sdk.Feed, max int) (sdk.SyncDataPage, error) {
	id, off, ok := strings.Cut(string(token), ":")
	offset, err := strconv.Atoi(off)
	r.mu.Lock()
	rd := r.m[id]
	r.mu.Unlock()
	if !ok || err != nil || rd == nil || rd.feed != feed || offset < 0 || offset > len(rd.records) {
		return sdk.SyncDataPage{}, sdk.NewError(sdk.ErrRetryable, "page token %q of feed %s is unknown (the connector restarted or the round is older than %s): collect the feed again from its stored cursor", truncate(string(token), 40), feed, roundTTL)
	}
	return r.slice(id, rd, offset, max), nil
}

func (r *rounds) slice(id string, rd *round, offset, max int) sdk.SyncDataPage {
	end := min(offset+max, len(rd.records))
	page := sdk.SyncDataPage{Records: rd.records[offset:end]}
	if end < len(rd.records) {
		page.NextPageToken = []byte(fmt.Sprintf("%s:%d", id, end))
		return page
	}
	page.Cursor = rd.cursor
	r.mu.Lock()
	delete(r.m, id)
	r.mu.Unlock()
	return page
}

// versionOf returns an item's version: its @odata.etag, which is what
// If-Match compares, or the etag Graph builds from its changeKey when a
// response leaves the annotation out.
func versionOf(etag, changeKey string) string {
	if etag != "" {
		return etag
	}
	if changeKey != "" {
		return `W/"` + changeKey + `"`
	}
	return ""
}

// parseGraphTime reads an Edm.DateTimeOffset ("2024-01-02T03:04:05.1234567Z").
func parseGraphTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
