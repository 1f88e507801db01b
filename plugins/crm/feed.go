package crm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// A feed is Dataverse change tracking on each table of an entity, read
// org-wide by the application user: change tracking cannot be filtered, so
// the records carry routing keys (owner, activity parties) and the gateway
// sends each to the bindings it concerns.
//
// The cursor holds one delta link per table. A round reads the tables in
// order, following @odata.nextLink unmodified until @odata.deltaLink; the
// page token carries the links so far and the next link to follow.

type cursorState struct {
	V      int      `json:"v"`
	Entity string   `json:"e"`
	Links  []string `json:"l"` // per table: its delta link, "" for a first enumeration
}

type pageState struct {
	cursorState
	Table int    `json:"t"` // the table being read
	Next  string `json:"n"` // its @odata.nextLink, "" to start it from Links[Table]
}

const cursorVersion = 1

// decodeCursor reads a cursor this connector issued for e. Anything else,
// or a link that does not point at this org's table, asks for a resync: the
// gateway then enumerates the feed afresh.
func (c *Connector) decodeCursor(e *entity, b []byte) (cursorState, error) {
	st := cursorState{V: cursorVersion, Entity: e.name, Links: make([]string, len(e.tables))}
	if len(b) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(b, &st); err != nil || st.V != cursorVersion || st.Entity != e.name || len(st.Links) != len(e.tables) {
		return st, sdk.NewError(sdk.ErrResyncRequired, "the %s feed's cursor is not one this connector issued", e.name)
	}
	for i, l := range st.Links {
		if l != "" && !c.tableLink(e.tables[i], l) {
			return st, sdk.NewError(sdk.ErrResyncRequired, "the %s feed's cursor points at another org or table (%s)", e.name, redact(l))
		}
	}
	return st, nil
}

// tableLink reports whether link reads t in this org: a link that leads
// elsewhere would carry the org's token with it.
func (c *Connector) tableLink(t *table, link string) bool {
	return strings.HasPrefix(link, c.cfg.URL+"/"+t.set+"?")
}

func encode(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// feedEntity returns the entity of an endpoint feed.
func (c *Connector) feedEntity(feed sdk.Feed) (*entity, error) {
	e, ok := c.entities[feed.Name]
	if !ok {
		return nil, sdk.NewError(sdk.ErrPermanent, "crm has no feed %q; its feeds are contact, appointment, task and service_appointment", feed.Name)
	}
	if feed.Scope != "" {
		return nil, sdk.NewError(sdk.ErrPermanent, "feed %s is an endpoint feed: Dataverse change tracking covers the whole org, so it takes no scope (got %q)", feed.Name, feed.Scope)
	}
	return e, nil
}

// PrepareSync cannot count cheaply: Dataverse change tracking tells how many
// rows changed only by returning them, which is GetSyncData's request. So
// it costs no request and says "unknown"; an idle poll is then one request
// per table. It still refuses a cursor it did not issue.
func (c *Connector) PrepareSync(_ context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	if _, err := c.configured(); err != nil {
		return sdk.Pending{}, err
	}
	e, err := c.feedEntity(feed)
	if err != nil {
		return sdk.Pending{}, err
	}
	if _, err := c.decodeCursor(e, cursor); err != nil {
		return sdk.Pending{}, err
	}
	return sdk.Pending{Kind: sdk.PendingUnknown}, nil
}

// PostSync has nothing to release (Dataverse keeps change history for its
// own retention period, seven days by default), but it still refuses a
// cursor it did not issue.
func (c *Connector) PostSync(_ context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	if _, err := c.configured(); err != nil {
		return err
	}
	e, err := c.feedEntity(feed)
	if err != nil {
		return err
	}
	_, err = c.decodeCursor(e, cursor)
	return err
}

// GetSyncData reads one page of one table's change tracking.
func (c *Connector) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (page sdk.SyncDataPage, err error) {
	cl, err := c.configured()
	if err != nil {
		return page, err
	}
	e, err := c.feedEntity(req.Feed)
	if err != nil {
		return page, err
	}
	var st pageState
	if len(req.PageToken) > 0 {
		if json.Unmarshal(req.PageToken, &st) != nil || st.Entity != e.name || st.Table < 0 || st.Table >= len(e.tables) {
			return page, sdk.NewError(sdk.ErrPermanent, "the %s feed's page token is not one this connector issued", e.name)
		}
		if _, err := c.decodeCursor(e, encode(st.cursorState)); err != nil {
			return page, err
		}
		if st.Next != "" && !c.tableLink(e.tables[st.Table], st.Next) {
			return page, sdk.NewError(sdk.ErrPermanent, "the %s feed's page token links off the org's table", e.name)
		}
	} else if st.cursorState, err = c.decodeCursor(e, req.Cursor); err != nil {
		return page, err
	}
	t := e.tables[st.Table]
	size := c.cfg.PageSize
	if req.Max > 0 {
		size = min(req.Max, maxPageSize)
	}
	link, kind := st.Next, "next"
	if link == "" {
		link, kind = st.Links[st.Table], "delta"
	}
	if link == "" {
		link, kind = t.set+"?$select="+strings.Join(c.feedColumns(t), ","), "initial"
	}
	resp, err := cl.do(ctx, request{method: http.MethodGet, url: link,
		prefer: []string{"odata.track-changes", fmt.Sprintf("odata.maxpagesize=%d", size)}})
	if err != nil {
		return page, feedError(e, t, kind, err)
	}
	var body struct {
		Value     []row  `json:"value"`
		NextLink  string `json:"@odata.nextLink"`
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := resp.decode(&body); err != nil {
		return page, err
	}
	for _, l := range []string{body.NextLink, body.DeltaLink} {
		if l != "" && !c.tableLink(t, c.absolute(l)) {
			return page, sdk.NewError(sdk.ErrPermanent, "the %s change tracking page links off the org's table (%s); refusing to follow it", t.set, redact(l))
		}
	}
	if page.Records, err = c.changeRecords(ctx, cl, e, t, body.Value); err != nil {
		return page, err
	}
	switch {
	case body.NextLink != "":
		st.Next = c.absolute(body.NextLink)
	case body.DeltaLink != "":
		st.Links[st.Table] = c.absolute(body.DeltaLink)
		st.Table, st.Next = st.Table+1, ""
		// Every table up to here is read to its delta link, the rest stand
		// where the old cursor left them: a position worth storing.
		page.Cursor = encode(st.cursorState)
	default:
		return page, sdk.NewError(sdk.ErrRetryable, "the %s change tracking page has neither @odata.nextLink nor @odata.deltaLink", t.set)
	}
	if st.Table < len(e.tables) {
		page.NextPageToken = encode(st)
	}
	return page, nil
}

// feedError says what a failed feed request means. A delta link the
// service no longer accepts (expired or unknown token) asks for a resync;
// a table that refuses change tracking is the org's configuration.
func feedError(e *entity, t *table, kind string, err error) error {
	se := sdk.AsError(err)
	switch {
	case se.Kind == sdk.ErrThrottled || se.Kind == sdk.ErrRetryable || se.Kind == sdk.ErrAuth:
		return err
	case kind == "delta":
		return sdk.NewError(sdk.ErrResyncRequired, "the %s feed's delta token was refused (%s); enumerating the table again", e.name, se.Message)
	case kind == "initial":
		return sdk.NewError(sdk.ErrConfig, "change tracking on %s failed (%s); enable Track changes for the %s table, and check that it has the syncgate id column (id_column)", t.set, se.Message, t.logical)
	}
	// A paging link that stopped working: start the round again from the
	// stored cursor.
	return sdk.NewError(sdk.ErrRetryable, "the %s feed's next page failed: %s", e.name, se.Message)
}

// feedColumns are all a feed reads: "the columnset of id and timestamp",
// the owner that routes it, the syncgate id that correlates it, and what
// decides whether the row belongs to the entity.
func (c *Connector) feedColumns(t *table) []string {
	return append([]string{t.key, "versionnumber", "modifiedon", "_ownerid_value", c.cfg.IDColumn}, t.feedCols...)
}

// absolute resolves a link the service returned relative to the Web API.
func (c *Connector) absolute(link string) string {
	if strings.HasPrefix(link, "http://") || strings.HasPrefix(link, "https://") {
		return link
	}
	return c.cfg.URL + "/" + strings.TrimLeft(link, "/")
}

// changeRecords turns a page of change tracking rows into change records.
// For activities, the parties that route a record are read for the changed
// rows only, in batches. A row that stands for another item (an edited
// occurrence stands for its series) gives that item's record, once a page.
func (c *Connector) changeRecords(ctx context.Context, cl *client, e *entity, t *table, rows []row) ([]sdk.ChangeRecord, error) {
	var out []sdk.ChangeRecord
	var ids []string // per record: the row whose parties route it
	seen := map[string]bool{}
	for _, r := range rows {
		if id, deleted := deletedID(r); deleted {
			out = append(out, sdk.ChangeRecord{Entity: e.name, ID: t.itemID(id), Kind: sdk.ChangeDelete})
			ids = append(ids, "")
			continue
		}
		id := strings.ToLower(r.str(t.key))
		if id == "" {
			return nil, sdk.NewError(sdk.ErrRetryable, "a %s change tracking row has no %s", t.set, t.key)
		}
		rec := sdk.ChangeRecord{Entity: e.name, ID: t.itemID(id), Kind: sdk.ChangeUpsert, Version: r.version(),
			Modified: r.modified(), CorrelationKey: r.str(c.cfg.IDColumn)}
		if t.standsFor != nil {
			if item, ok := t.standsFor(r); ok {
				// Its version and stamp are the occurrence's, not the
				// series': Fetch tells the series' own.
				rec.ID, rec.Version, rec.CorrelationKey = item, "", ""
			}
		}
		if seen[rec.ID] || (t.skip != nil && t.skip(r) && rec.ID == t.itemID(id)) {
			continue
		}
		seen[rec.ID] = true
		if o := strings.ToLower(r.str("_ownerid_value")); o != "" {
			rec.RoutingKeys = []string{o}
		}
		out = append(out, rec)
		ids = append(ids, id)
	}
	if len(t.routeMasks) == 0 || len(out) == 0 {
		return out, nil
	}
	var want []string
	for _, id := range ids {
		if id != "" {
			want = append(want, id)
		}
	}
	parties, err := c.parties(ctx, cl, want, t.routeMasks, "")
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, p := range parties[ids[i]] {
			for _, k := range p.routingKeys() {
				if !slices.Contains(out[i].RoutingKeys, k) {
					out[i].RoutingKeys = append(out[i].RoutingKeys, k)
				}
			}
		}
	}
	return out, nil
}

// deletedID recognises a $deletedEntity entry: an object whose context ends
// in /$deletedEntity, with the row's id and reason "deleted".
func deletedID(r row) (string, bool) {
	if strings.HasSuffix(r.str("@odata.context"), "/$deletedEntity") || (r.str("reason") == "deleted" && r.has("id")) {
		if id := r.str("id"); id != "" {
			return strings.ToLower(id), true
		}
	}
	return "", false
}
