package crm

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// Fetch reads full items as the scope's user. An item that is gone, or an
// id that is not one of this entity's, fails alone; a failure that
// concerns every item (throttling, auth, the network) fails the call.
func (c *Connector) Fetch(ctx context.Context, scope, entityName string, ids []string) ([]sdk.FetchResult, error) {
	cl, e, u, err := c.scoped(ctx, scope, entityName)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.FetchResult, len(ids))
	rows := make([]row, len(ids))
	tables := make([]*table, len(ids))
	guids := make([]string, len(ids))
	byTable := map[*table][]string{}
	for i, id := range ids {
		out[i].ID = id
		t, g, err := e.parseID(id)
		if err != nil {
			out[i].Err = sdk.AsError(err)
			continue
		}
		tables[i], guids[i] = t, strings.ToLower(g)
		if !slices.Contains(byTable[t], guids[i]) {
			byTable[t] = append(byTable[t], guids[i])
		}
	}
	found := map[*table]map[string]row{}
	for t, gs := range byTable {
		if found[t], err = c.readRows(ctx, cl, t, gs, u.id); err != nil {
			return nil, err
		}
	}
	partyIDs := map[*table][]string{}
	for i, t := range tables {
		if t == nil {
			continue
		}
		r, ok := found[t][guids[i]]
		if !ok {
			// Gone, or not readable by this user: one read of the row
			// alone says which.
			cols, err := c.fetchColumns(ctx, cl, t)
			if err == nil {
				r, err = c.get(ctx, cl, t, guids[i], cols, u.id)
			}
			if se := sdk.AsError(err); err != nil && (se.Kind == sdk.ErrNotFound || se.Kind == sdk.ErrPermanent) {
				out[i].Err, tables[i] = se, nil
				continue
			} else if err != nil {
				return nil, err
			}
		}
		rows[i] = r
		if t.partyNav != "" && !slices.Contains(partyIDs[t], guids[i]) {
			partyIDs[t] = append(partyIDs[t], guids[i])
		}
	}
	parties := map[string][]party{}
	for t, gs := range partyIDs {
		ps, err := c.parties(ctx, cl, gs, t.partyMasks, u.id)
		if err == nil {
			err = c.fillAddresses(ctx, cl, ps, u.id)
		}
		if err != nil {
			return nil, err
		}
		for k, v := range ps {
			parties[k] = v
		}
	}
	var series []string
	for i, r := range rows {
		if r != nil && tables[i].version != nil {
			series = append(series, strings.ToLower(r.str(tables[i].key)))
		}
	}
	var exceptions map[string][]row
	if len(series) > 0 {
		if exceptions, err = c.seriesExceptions(ctx, cl, series, u.id); err != nil {
			return nil, err
		}
	}
	for i, r := range rows {
		if r == nil {
			continue
		}
		t := tables[i]
		g := strings.ToLower(r.str(t.key))
		fields, err := t.read(c, t, r, parties[g])
		if err != nil {
			out[i].Err = sdk.AsError(err)
			continue
		}
		version := r.version()
		if t.version != nil {
			addExceptions(fields, exceptions[g], c.rowZone(r))
			version = seriesVersion(version, exceptions[g])
		}
		rec := &sdk.Record{Entity: e.name, ID: out[i].ID, Version: version, Modified: r.modified(),
			CorrelationKey: r.str(c.cfg.IDColumn), Fields: fields}
		if o := strings.ToLower(r.str("_ownerid_value")); o != "" {
			rec.RoutingKeys = append(rec.RoutingKeys, o)
		}
		for _, p := range parties[g] {
			if slices.Contains(t.routeMasks, p.mask) {
				rec.RoutingKeys = append(rec.RoutingKeys, p.routingKeys()...)
			}
		}
		out[i].Record = rec
	}
	return out, nil
}

// fetchColumns are the columns Fetch reads: the feed's and the entity's,
// without the zone code where the table has none.
func (c *Connector) fetchColumns(ctx context.Context, cl *client, t *table) ([]string, error) {
	zones, err := c.hasZones(ctx, cl, t)
	if err != nil {
		return nil, err
	}
	cols := c.feedColumns(t)
	for _, col := range t.cols {
		if col != zoneColumn || zones {
			cols = append(cols, col)
		}
	}
	return cols, nil
}

// writeBody is an op's fields as the columns of t, without the zone code
// where the table has none.
func (c *Connector) writeBody(ctx context.Context, cl *client, t *table, f sdk.Fields, old []party) (row, error) {
	body, err := t.write(c, t, f, old)
	if err != nil {
		return nil, err
	}
	if zones, err := c.hasZones(ctx, cl, t); err != nil {
		return nil, err
	} else if !zones {
		delete(body, zoneColumn)
	}
	return body, nil
}

// lookupAnnotations name a lookup's table and display name (regarding,
// service).
const lookupAnnotations = `odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname,OData.Community.Display.V1.FormattedValue"`

// fetchBatch bounds the ids of one query by id.
const fetchBatch = 40

// readRows reads the rows of t with the given ids for Fetch, many to a
// query: a request per item would spend the user's request quota (6,000 in
// five minutes) forty times as fast.
func (c *Connector) readRows(ctx context.Context, cl *client, t *table, ids []string, caller string) (map[string]row, error) {
	cols, err := c.fetchColumns(ctx, cl, t)
	if err != nil {
		return nil, err
	}
	out := map[string]row{}
	for _, f := range orFilters(ids, fetchBatch, func(id string) string { return t.key + " eq " + id }) {
		rows, err := cl.list(ctx, t.set+"?$select="+strings.Join(cols, ",")+"&$filter="+url.QueryEscape(f), caller, lookupAnnotations)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[strings.ToLower(r.str(t.key))] = r
		}
	}
	return out, nil
}

// get reads one row.
func (c *Connector) get(ctx context.Context, cl *client, t *table, id string, cols []string, caller string) (row, error) {
	resp, err := cl.do(ctx, request{method: http.MethodGet, url: t.set + "(" + id + ")?$select=" + strings.Join(cols, ","), caller: caller,
		prefer: []string{lookupAnnotations}})
	if err != nil {
		return nil, err
	}
	var r row
	return r, resp.decode(&r)
}

// Apply writes as the scope's user, one op after another. Once an op is
// throttled or refused for credentials, the rest are not sent: they would
// meet the same answer and cost the user's quota.
func (c *Connector) Apply(ctx context.Context, scope, entityName string, ops []sdk.Op) ([]sdk.OpResult, error) {
	cl, e, u, err := c.scoped(ctx, scope, entityName)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.OpResult, len(ops))
	var stop *sdk.Error
	for i, op := range ops {
		if stop != nil {
			out[i] = sdk.OpResult{ID: op.ID, Err: stop}
			continue
		}
		res, err := c.applyOne(ctx, cl, e, u, op)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			se := sdk.AsError(err)
			res = sdk.OpResult{ID: op.ID, Err: se}
			if se.Kind == sdk.ErrThrottled || se.Kind == sdk.ErrAuth || se.Kind == sdk.ErrConfig {
				stop = se
			}
		}
		out[i] = res
	}
	return out, nil
}

func (c *Connector) applyOne(ctx context.Context, cl *client, e *entity, u user, op sdk.Op) (sdk.OpResult, error) {
	if _, canonical := sdk.Schemas[e.name]; canonical {
		if ds := sdk.Validate(e.name, op.Fields); ds.HasErrors() {
			return sdk.OpResult{}, sdk.NewError(sdk.ErrPermanent, "invalid %s: %v", e.name, ds.Err())
		}
	}
	switch op.Kind {
	case sdk.OpCreate:
		return c.create(ctx, cl, e, u, op)
	case sdk.OpUpdate:
		return c.update(ctx, cl, e, u, op)
	case sdk.OpDelete:
		t, g, err := e.parseID(op.ID)
		if err == nil {
			err = c.checkItemVersion(ctx, cl, t, g, op, u.id)
		}
		if err != nil {
			return sdk.OpResult{}, err
		}
		_, err = cl.do(ctx, request{method: http.MethodDelete, url: t.set + "(" + g + ")", caller: u.id,
			header: map[string]string{"If-Match": matchHeader(op.IfMatch)}})
		if err != nil {
			return sdk.OpResult{}, c.conflict(ctx, cl, t, g, u.id, err)
		}
		return sdk.OpResult{ID: op.ID}, nil
	}
	return sdk.OpResult{}, sdk.NewError(sdk.ErrPermanent, "unknown operation %s", op.Kind)
}

func matchHeader(version string) string {
	if version == "" {
		return "*" // still a condition: a PATCH must never turn into an upsert
	}
	return ifMatch(masterVersion(version))
}

// conflict completes a 412 with the row's current version, so that the
// engine can tell a stale write from a lost race without asking again.
func (c *Connector) conflict(ctx context.Context, cl *client, t *table, id, caller string, err error) error {
	if se := sdk.AsError(err); se.Kind == sdk.ErrConflict && se.CurrentVersion == "" {
		r, gerr := c.get(ctx, cl, t, id, []string{t.key, "versionnumber"}, caller)
		if sdk.IsKind(gerr, sdk.ErrNotFound) {
			return gerr
		}
		if gerr == nil {
			v, verr := c.itemVersion(ctx, cl, t, id, r.version(), caller)
			if verr != nil {
				return verr
			}
			return sdk.Conflict(v, "%s", se.Message)
		}
	}
	return err
}

// create writes a new row stamped with the syncgate id. With MayExist, an
// earlier attempt may have succeeded: the stamp is looked up first.
func (c *Connector) create(ctx context.Context, cl *client, e *entity, u user, op sdk.Op) (sdk.OpResult, error) {
	if op.MayExist && op.CorrelationKey != "" {
		if t, r, err := c.findByKey(ctx, cl, e, op.CorrelationKey, u.id); err != nil {
			return sdk.OpResult{}, err
		} else if r != nil {
			v, err := c.itemVersion(ctx, cl, t, r.str(t.key), r.version(), u.id)
			return sdk.OpResult{ID: t.itemID(r.str(t.key)), Version: v}, err
		}
	}
	t := e.createIn(op.Fields)
	body, err := c.writeBody(ctx, cl, t, op.Fields, nil)
	if err != nil {
		return sdk.OpResult{}, err
	}
	for k, v := range body {
		if v == nil {
			delete(body, k) // a new row has nothing to clear
		}
	}
	if op.CorrelationKey != "" {
		body[c.cfg.IDColumn] = op.CorrelationKey
	}
	resp, err := cl.do(ctx, request{method: http.MethodPost, url: t.set + "?$select=" + t.key + ",versionnumber", body: body,
		caller: u.id, prefer: []string{"return=representation"}})
	if err != nil {
		return sdk.OpResult{}, err
	}
	return c.written(ctx, cl, t, "", u.id, op.Fields, resp)
}

// written reads a write's answer: the row with Prefer: return=representation
// (201 or 200), or 204 with the row's address in OData-EntityId, after
// which one read gives the version.
//
// What lives in other rows (a series' edited occurrences) is written then,
// and the item's version read after it.
func (c *Connector) written(ctx context.Context, cl *client, t *table, id, caller string, f sdk.Fields, resp *response) (sdk.OpResult, error) {
	version := ""
	if resp.status != http.StatusNoContent {
		var r row
		if err := resp.decode(&r); err != nil {
			return sdk.OpResult{}, err
		}
		if k := r.str(t.key); k != "" {
			id = k
		}
		version = r.version()
	}
	if loc := entityIDFromHeader(resp.header.Get("OData-EntityId")); loc != "" && version == "" {
		id = loc
	}
	if id == "" {
		return sdk.OpResult{}, sdk.NewError(sdk.ErrRetryable, "the %s write answered %d without the row or its address", t.set, resp.status)
	}
	if t.afterWrite != nil {
		wrote, err := t.afterWrite(ctx, c, cl, id, f, caller)
		if err != nil {
			return sdk.OpResult{}, err
		}
		if wrote {
			version = "" // the occurrences' writes may have moved it
		}
	}
	if version == "" {
		r, err := c.get(ctx, cl, t, id, []string{t.key, "versionnumber"}, caller)
		if err != nil {
			return sdk.OpResult{}, err
		}
		version = r.version()
	}
	v, err := c.itemVersion(ctx, cl, t, id, version, caller)
	return sdk.OpResult{ID: t.itemID(id), Version: v}, err
}

// itemVersion completes a row's version into its item's.
func (c *Connector) itemVersion(ctx context.Context, cl *client, t *table, id, rowVersion, caller string) (string, error) {
	if t.version == nil {
		return rowVersion, nil
	}
	return t.version(ctx, c, cl, id, rowVersion, caller)
}

var entityIDRE = regexp.MustCompile(`\(([0-9A-Fa-f-]{36})\)\s*$`)

// entityIDFromHeader takes the id out of an OData-EntityId address such as
// .../accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1).
func entityIDFromHeader(h string) string {
	if m := entityIDRE.FindStringSubmatch(h); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// findByKey looks a syncgate id up in the entity's tables.
func (c *Connector) findByKey(ctx context.Context, cl *client, e *entity, key, caller string) (*table, row, error) {
	for _, t := range e.tables {
		q := t.set + "?$select=" + t.key + ",versionnumber&$filter=" + url.QueryEscape(c.cfg.IDColumn+" eq "+odataString(key))
		rows, err := cl.list(ctx, q, caller)
		if err != nil {
			return nil, nil, err
		}
		if len(rows) > 0 {
			return t, rows[0], nil
		}
	}
	return nil, nil, nil
}

// update patches the columns of the fields the op carries, on the version
// the gateway last saw. The stamp is never written here: linking a record
// that already exists must not overwrite its syncgate id.
func (c *Connector) update(ctx context.Context, cl *client, e *entity, u user, op sdk.Op) (sdk.OpResult, error) {
	t, g, err := e.parseID(op.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	if want := e.createIn(op.Fields); op.Fields["recurrence"].Kind() == sdk.KindMap && want != t {
		return sdk.OpResult{}, sdk.NewError(sdk.ErrPermanent, "%s %s is a single appointment: Dataverse cannot turn it into a series; delete it and create the series", e.name, op.ID)
	}
	if err := c.checkItemVersion(ctx, cl, t, g, op, u.id); err != nil {
		return sdk.OpResult{}, err
	}
	var old []party
	if touchesParties(t, op.Fields) {
		ps, err := c.parties(ctx, cl, []string{strings.ToLower(g)}, t.partyMasks, u.id)
		if err != nil {
			return sdk.OpResult{}, err
		}
		old = ps[strings.ToLower(g)]
	}
	body, err := c.writeBody(ctx, cl, t, op.Fields, old)
	if err != nil {
		return sdk.OpResult{}, err
	}
	resp, err := cl.do(ctx, request{method: http.MethodPatch, url: t.set + "(" + g + ")?$select=" + t.key + ",versionnumber", body: body,
		caller: u.id, prefer: []string{"return=representation"}, header: map[string]string{"If-Match": matchHeader(op.IfMatch)}})
	if err != nil {
		return sdk.OpResult{}, c.conflict(ctx, cl, t, g, u.id, err)
	}
	return c.written(ctx, cl, t, g, u.id, op.Fields, resp)
}

// touchesParties reports whether an update carries a field held in activity
// parties, whose current list it must then merge with.
func touchesParties(t *table, f sdk.Fields) bool {
	for _, pf := range t.partyFields {
		if _, ok := f[pf.name]; ok {
			return true
		}
	}
	return false
}

// scoped is what Fetch and Apply start from: the client, the entity, and
// the scope's user to act as.
func (c *Connector) scoped(ctx context.Context, scope, entityName string) (*client, *entity, user, error) {
	cl, err := c.configured()
	if err != nil {
		return nil, nil, user{}, err
	}
	e, err := c.entity(entityName)
	if err != nil {
		return nil, nil, user{}, err
	}
	u, err := c.users.caller(ctx, cl, scope)
	return cl, e, u, err
}

// checkItemVersion compares an op's version with the item's when the item's
// version is more than its row's (a series with edited occurrences): the
// service compares only the row's, so the rest is compared here first.
func (c *Connector) checkItemVersion(ctx context.Context, cl *client, t *table, id string, op sdk.Op, caller string) error {
	if t.version == nil || op.IfMatch == "" {
		return nil
	}
	r, err := c.get(ctx, cl, t, id, []string{t.key, "versionnumber"}, caller)
	if err != nil {
		return err
	}
	cur, err := c.itemVersion(ctx, cl, t, id, r.version(), caller)
	if err == nil && cur != op.IfMatch {
		err = sdk.Conflict(cur, "%s changed since version %s", op.ID, op.IfMatch)
	}
	return err
}
