package caldav

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"

	"github.com/syncgate/syncgate/sdk"
)

// cursorState is what a cursor holds: per collection, the sync token of
// its last round, or the id of the getetag listing (kept in the host's
// key-value store) for collections without sync-collection.
type cursorState struct {
	V     int                   `json:"v"`
	Feed  string                `json:"feed"`
	Colls map[string]collCursor `json:"c"`
}

type collCursor struct {
	Token string `json:"t,omitempty"`
	Snap  string `json:"s,omitempty"`
}

const cursorVersion = 1

func feedID(feed sdk.Feed) string { return feed.Name + "/" + strings.ToLower(feed.Scope) }

func decodeCursor(feed sdk.Feed, b sdk.Cursor) (cursorState, error) {
	st := cursorState{V: cursorVersion, Feed: feedID(feed), Colls: map[string]collCursor{}}
	if len(b) == 0 {
		return st, nil
	}
	var got cursorState
	if err := json.Unmarshal(b, &got); err != nil || got.V != cursorVersion || got.Colls == nil {
		return st, sdk.NewError(sdk.ErrResyncRequired, "the cursor of feed %s is not one this connector issued", feed)
	}
	if got.Feed != st.Feed {
		return st, sdk.NewError(sdk.ErrResyncRequired, "the cursor belongs to feed %s, not %s", got.Feed, st.Feed)
	}
	return got, nil
}

// round is the outcome of reading a feed once: every change since the
// cursor, sorted by id, and the cursor after them. Pages are slices of it,
// so a large first enumeration costs one REPORT, not one per page.
type round struct {
	id     string
	recs   []sdk.ChangeRecord
	cursor sdk.Cursor
}

type roundCache struct {
	mu     sync.Mutex
	rounds []*round // the most recent last
}

func (rc *roundCache) put(r *round) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.rounds = append(rc.rounds, r)
	if len(rc.rounds) > 8 {
		rc.rounds = rc.rounds[1:]
	}
}

func (rc *roundCache) get(id string) *round {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range rc.rounds {
		if r.id == id {
			return r
		}
	}
	return nil
}

type pageToken struct {
	Round  string `json:"r"`
	Offset int    `json:"o"`
}

// DefaultPageSize is the records per page when the gateway does not say.
const DefaultPageSize = 500

// GetSyncData reads the feed's collections once per round (sync-collection
// or an etag comparison) and pages through the result. A page token whose
// round this process no longer holds (it restarted) reads the feed again
// from the cursor: records may repeat, none is lost.
func (c *Connector) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (page sdk.SyncDataPage, err error) {
	max := req.Max
	if max <= 0 {
		max = DefaultPageSize
	}
	var r *round
	off := 0
	if len(req.PageToken) > 0 {
		var pt pageToken
		if json.Unmarshal(req.PageToken, &pt) != nil {
			return page, sdk.NewError(sdk.ErrResyncRequired, "the page token of feed %s is not one this connector issued", req.Feed)
		}
		if r = c.rounds.get(pt.Round); r != nil {
			off = min(pt.Offset, len(r.recs))
		}
	}
	if r == nil {
		if r, err = c.readFeed(ctx, req.Feed, req.Cursor); err != nil {
			return page, err
		}
		c.rounds.put(r)
	}
	end := min(off+max, len(r.recs))
	page.Records = r.recs[off:end]
	if end < len(r.recs) {
		page.NextPageToken, _ = json.Marshal(pageToken{Round: r.id, Offset: end})
	} else {
		page.Cursor = r.cursor
	}
	return page, nil
}

// PrepareSync compares each collection's current sync token with the
// cursor's: all equal means nothing changed (one PROPFIND per collection).
// Anything else, or a collection read by etags, is "unknown".
func (c *Connector) PrepareSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	cl, cfg, colls, err := c.state(ctx)
	if err != nil {
		return sdk.Pending{}, err
	}
	if err := checkScope(cfg, feed.Scope); err != nil {
		return sdk.Pending{}, err
	}
	st, err := decodeCursor(feed, cursor)
	if err != nil || len(cursor) == 0 {
		return sdk.Pending{Kind: sdk.PendingUnknown}, err
	}
	for _, col := range collsFor(colls, feed.Name) {
		cc, ok := st.Colls[col.Href]
		if !ok || !col.Sync || cc.Token == "" {
			return sdk.Pending{Kind: sdk.PendingUnknown}, nil
		}
		ms, err := cl.multistatus(ctx, "PROPFIND", col.Href, "0", `<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>`)
		if err != nil {
			return sdk.Pending{}, typed(err)
		}
		var tok string
		for _, r := range ms.Responses {
			for _, ps := range r.Propstat {
				if ps.Prop.SyncToken != nil {
					tok = strings.TrimSpace(ps.Prop.SyncToken.Value)
				}
			}
		}
		if tok != cc.Token {
			return sdk.Pending{Kind: sdk.PendingUnknown}, nil
		}
	}
	return sdk.Pending{Kind: sdk.PendingCount, Count: 0}, nil
}

// PostSync forgets the etag listings older than the acknowledged cursor's.
func (c *Connector) PostSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	st, err := decodeCursor(feed, cursor)
	if err != nil || len(cursor) == 0 {
		return err
	}
	c.mu.Lock()
	kv := c.kv
	c.mu.Unlock()
	if kv == nil {
		return sdk.NewError(sdk.ErrConfig, "the connector is not configured")
	}
	for href, cc := range st.Colls {
		if cc.Snap == "" {
			continue
		}
		prefix := snapPrefix(feed, href)
		old, err := kv.List(ctx, prefix)
		if err != nil {
			return err
		}
		for k := range old {
			if k < prefix+cc.Snap {
				if err := kv.Delete(ctx, k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func snapPrefix(feed sdk.Feed, coll string) string { return "etags/" + feedID(feed) + "/" + coll + "|" }

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("%016x-%s", time.Now().UnixNano(), hex.EncodeToString(b))
}

// readFeed reads every collection of the feed's entity from the cursor.
func (c *Connector) readFeed(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (*round, error) {
	cl, cfg, colls, err := c.state(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkScope(cfg, feed.Scope); err != nil {
		return nil, err
	}
	if !knownEntity(feed.Name) {
		return nil, sdk.NewError(sdk.ErrConfig, "the caldav connector has no feed %q", feed.Name)
	}
	st, err := decodeCursor(feed, cursor)
	if err != nil {
		return nil, err
	}
	next := cursorState{V: cursorVersion, Feed: feedID(feed), Colls: map[string]collCursor{}}
	r := &round{id: randomID()}
	for _, col := range collsFor(colls, feed.Name) {
		cc := st.Colls[col.Href]
		var members []member
		var err error
		if col.Sync {
			var tok string
			members, tok, err = cl.syncCollection(ctx, col.Href, cc.Token, col.Kind, true)
			if err != nil {
				return nil, syncError(feed, col, cc.Token, err)
			}
			next.Colls[col.Href] = collCursor{Token: tok}
		} else {
			var snap string
			members, snap, err = c.compareEtags(ctx, cl, feed, col, cc)
			if err != nil {
				return nil, err
			}
			next.Colls[col.Href] = collCursor{Snap: snap}
		}
		recs, err := records(ctx, cl, feed.Name, col, members, &c.bodies)
		if err != nil {
			return nil, err
		}
		r.recs = append(r.recs, recs...)
	}
	sort.SliceStable(r.recs, func(i, j int) bool { return r.recs[i].ID < r.recs[j].ID })
	r.cursor, _ = json.Marshal(next)
	return r, nil
}

// syncError reads a failed sync-collection: a token the server no longer
// knows is answered 403 valid-sync-token (RFC 6578 3.2), or 500 by servers
// that fail on it (Xandikos): both mean "enumerate again".
func syncError(feed sdk.Feed, col collection, token string, err error) error {
	he, ok := err.(*httpError)
	if ok && token != "" && ((he.status == http.StatusForbidden && he.condition == "valid-sync-token") || he.status == http.StatusInternalServerError) {
		return sdk.NewError(sdk.ErrResyncRequired, "%s: the server no longer knows the sync token of feed %s (%v); enumerating again", col.Href, feed, err)
	}
	return typed(err)
}

// compareEtags lists the collection's etags and compares them with the
// listing stored at the cursor: new or changed etags are upserts, missing
// hrefs are deletes. The new listing is stored under a new id.
func (c *Connector) compareEtags(ctx context.Context, cl *client, feed sdk.Feed, col collection, cc collCursor) ([]member, string, error) {
	c.mu.Lock()
	kv := c.kv
	c.mu.Unlock()
	prefix := snapPrefix(feed, col.Href)
	old := map[string]string{}
	if cc.Snap != "" {
		b, found, err := kv.Get(ctx, prefix+cc.Snap)
		if err != nil {
			return nil, "", err
		}
		if !found || json.Unmarshal(b, &old) != nil {
			return nil, "", sdk.NewError(sdk.ErrResyncRequired, "%s: the etag listing of the cursor is gone; enumerating again", col.Href)
		}
	}
	cur, err := cl.listMembers(ctx, col.Href)
	if err != nil {
		return nil, "", typed(err)
	}
	now := make(map[string]string, len(cur))
	var out []member
	for _, m := range cur {
		now[m.Href] = m.ETag
		if old[m.Href] != m.ETag {
			out = append(out, m)
		}
	}
	for href := range old {
		if _, ok := now[href]; !ok {
			out = append(out, member{Href: href, Gone: true})
		}
	}
	snap := randomID()
	b, _ := json.Marshal(now)
	if err := kv.Put(ctx, prefix+snap, b); err != nil {
		return nil, "", err
	}
	return out, snap, nil
}

// records turns a collection's changed members into change records of
// entity. Members are read (their bodies came with the REPORT, or are
// fetched in multiget batches) to tell appointments, service appointments
// and tasks apart, to carry the syncgate id, and to serve the Fetch that
// follows from memory; a removed member is a delete in every calendar feed,
// since its body is gone.
func records(ctx context.Context, cl *client, entity string, col collection, members []member, bodies *bodyCache) ([]sdk.ChangeRecord, error) {
	if err := readBodies(ctx, cl, col, members); err != nil {
		return nil, err
	}
	var out []sdk.ChangeRecord
	now := time.Now().UTC()
	for _, m := range members {
		rec := sdk.ChangeRecord{Entity: entity, ID: m.Href, Kind: sdk.ChangeUpsert, Version: m.ETag, Modified: now}
		if m.Gone {
			bodies.drop(m.Href)
		} else {
			bodies.put(m)
		}
		switch {
		case m.Gone:
			rec.Kind, rec.Version = sdk.ChangeDelete, ""
		case col.Kind == kindAddressBook:
			if card, err := parseCard(m.Data); err == nil {
				rec.CorrelationKey = cardKey(card)
			}
		case col.Kind == kindCalendar:
			it, err := parseCal(m.Data)
			if err != nil || it.entity != entity {
				continue // another entity's item, or one no entity maps (it is logged by Fetch if asked for)
			}
			rec.CorrelationKey = it.key
			if p := it.master.Props.Get(ical.PropLastModified); p != nil {
				if t, err := p.DateTime(time.UTC); err == nil {
					rec.Modified = t
				}
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// bodyCache keeps the bodies that the last rounds read, so that the Fetch
// the gateway sends right after a round costs no request: an entry serves
// one Fetch, within bodyTTL of its round, and a write through Apply drops
// it. What it serves is the item as the round saw it, with that version: a
// change since then has its own record in the next round.
type bodyCache struct {
	mu sync.Mutex
	m  map[string]cachedBody
	n  int // bytes held
}

type cachedBody struct {
	m  member
	at time.Time
}

const (
	bodyTTL      = 10 * time.Minute
	bodyMaxBytes = 64 << 20
)

func (b *bodyCache) put(m member) {
	if m.Data == "" || m.ETag == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]cachedBody{}
	}
	if old, ok := b.m[m.Href]; ok {
		b.n -= len(old.m.Data)
	}
	if b.n+len(m.Data) > bodyMaxBytes {
		return
	}
	b.m[m.Href] = cachedBody{m: m, at: time.Now()}
	b.n += len(m.Data)
}

// take returns and forgets a body read within bodyTTL.
func (b *bodyCache) take(href string) (member, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[href]
	if ok {
		delete(b.m, href)
		b.n -= len(e.m.Data)
	}
	return e.m, ok && time.Since(e.at) < bodyTTL
}

func (b *bodyCache) drop(href string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m[href]; ok {
		delete(b.m, href)
		b.n -= len(e.m.Data)
	}
}

// readBodies fills in the bodies that the listing did not carry (the etag
// fallback, or a server that leaves them out), with multiget REPORTs of 100.
func readBodies(ctx context.Context, cl *client, col collection, members []member) error {
	var need []string
	for _, m := range members {
		if !m.Gone && m.Data == "" {
			need = append(need, m.Href)
		}
	}
	got := map[string]member{}
	for start := 0; start < len(need); start += 100 {
		batch, err := cl.multiget(ctx, col.Href, col.Kind, need[start:min(start+100, len(need))])
		if err != nil {
			return typed(err)
		}
		for k, v := range batch {
			got[k] = v
		}
	}
	for i, m := range members {
		if g, ok := got[m.Href]; ok && !m.Gone {
			members[i] = g
		}
	}
	return nil
}
