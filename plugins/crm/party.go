package crm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// party is one activity party: who takes part in an activity, and how.
type party struct {
	activity string // the activity's id, lower case
	partyID  string // the systemuser, contact... it resolves to; "" if unresolved
	mask     int    // participationtypemask
	address  string // addressused
	kind     string // the logical name of the table partyID is in, when the org says
	name     string // the display name of what partyID is, when the org says
}

// routingKeys are the keys a party gives its activity's records: the user
// it resolves to, and the address it was invited with.
func (p party) routingKeys() []string {
	var keys []string
	if p.partyID != "" {
		keys = append(keys, p.partyID)
	}
	if p.address != "" {
		keys = append(keys, strings.ToLower(p.address))
	}
	return keys
}

// partyBatch bounds the activities per party query, and so the length of
// its URL.
const partyBatch = 40

// parties reads the parties of the given activities with the given
// participation types, in batches, grouped by activity id.
func (c *Connector) parties(ctx context.Context, cl *client, ids []string, masks []int, caller string) (map[string][]party, error) {
	out := map[string][]party{}
	var types []string
	for _, m := range masks {
		types = append(types, fmt.Sprintf("participationtypemask eq %d", m))
	}
	for _, f := range orFilters(ids, partyBatch, func(id string) string { return "_activityid_value eq " + id }) {
		filter := f + " and (" + strings.Join(types, " or ") + ")"
		rows, err := cl.list(ctx, "activityparties?$select=_activityid_value,_partyid_value,participationtypemask,addressused&$filter="+url.QueryEscape(filter), caller,
			lookupAnnotations)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			m, _ := r.int("participationtypemask")
			p := party{activity: strings.ToLower(r.str("_activityid_value")), partyID: strings.ToLower(r.str("_partyid_value")),
				mask: int(m), address: r.str("addressused"), kind: r.str("_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"),
				name: r.str("_partyid_value@OData.Community.Display.V1.FormattedValue")}
			out[p.activity] = append(out[p.activity], p)
		}
	}
	return out, nil
}

// list reads every row of a query, following @odata.nextLink.
func (cl *client) list(ctx context.Context, query, caller string, prefer ...string) ([]row, error) {
	var out []row
	link := query
	for pages := 0; link != ""; pages++ {
		if pages > 10000 {
			return nil, sdk.NewError(sdk.ErrRetryable, "%s: more than 10000 pages", redact(query))
		}
		resp, err := cl.do(ctx, request{method: http.MethodGet, url: link, caller: caller, prefer: append([]string{"odata.maxpagesize=5000"}, prefer...)})
		if err != nil {
			return nil, err
		}
		var body struct {
			Value    []row  `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := resp.decode(&body); err != nil {
			return nil, err
		}
		out = append(out, body.Value...)
		link = body.NextLink
	}
	return out, nil
}

// partyList renders parties as canonical attendees (address, name, role,
// response). The name is that of the user, contact or account a party is
// bound to; Dataverse keeps no response per party, so it reads as "none".
func partyList(ps []party, masks map[int]string) sdk.Value {
	var out []sdk.Value
	for _, p := range ps {
		role, ok := masks[p.mask]
		if !ok || p.address == "" {
			continue
		}
		m := map[string]sdk.Value{
			"address":  sdk.String(p.address),
			"role":     sdk.String(role),
			"response": sdk.String("none"),
		}
		if p.name != "" {
			m["name"] = sdk.String(p.name)
		}
		out = append(out, sdk.Map(m))
	}
	if len(out) == 0 {
		return sdk.Null
	}
	return sdk.List(out...)
}

// partySets are the tables a kept party may be bound to, with their entity
// sets.
var partySets = map[string]string{"systemuser": "systemusers", "contact": "contacts", "account": "accounts"}

// partyRow is an activity party as a create or update sends it: bound to
// the user when the address is a known user's, else by address alone
// (Dataverse resolves addresses it knows, and routing reads both).
func (c *Connector) partyRow(mask int, address string) row {
	r := row{"participationtypemask": mask, "addressused": address}
	if u, ok := c.users.byEmail(address); ok {
		r["partyid_systemuser@odata.bind"] = "/systemusers(" + u.id + ")"
	}
	return r
}

// writeParties builds the party list of an activity: the parties of the
// types whose fields the op carries come from the op, the others are kept
// from old, since the Web API replaces the whole list.
func (c *Connector) writeParties(f sdk.Fields, old []party, fields []partyField) ([]row, bool, error) {
	touched := map[int]bool{}
	changed := false
	for _, pf := range fields {
		if _, ok := f[pf.name]; ok {
			changed = true
			touched[pf.def] = true
			for _, m := range pf.roles {
				touched[m] = true
			}
		}
	}
	if !changed {
		return nil, false, nil
	}
	var out []row
	for _, p := range old {
		if touched[p.mask] {
			continue
		}
		if set, ok := partySets[p.kind]; ok && p.partyID != "" {
			// Kept as it was: bound to its user, contact or account.
			out = append(out, row{"participationtypemask": p.mask, "partyid_" + p.kind + "@odata.bind": "/" + set + "(" + p.partyID + ")"})
		} else if p.address != "" {
			out = append(out, c.partyRow(p.mask, p.address))
		}
	}
	for _, pf := range fields {
		v, ok := f[pf.name]
		if !ok || v.IsNull() {
			continue
		}
		if v.Kind() == sdk.KindString { // organizer: an address
			out = append(out, c.partyRow(pf.def, v.Str()))
			continue
		}
		for _, a := range v.ListVal() {
			m := a.MapVal()
			mask := pf.def
			if r, ok := pf.roles[m["role"].Str()]; ok {
				mask = r
			}
			addr := m["address"].Str()
			if addr == "" {
				return nil, false, errf("%s: an entry without an address cannot be an activity party", pf.name)
			}
			out = append(out, c.partyRow(mask, addr))
		}
	}
	return out, true, nil
}

// partyField is a canonical field held in activity parties: the
// participation type of each role it may have, and the one for entries
// without a known role.
type partyField struct {
	name  string
	roles map[string]int
	def   int
}

// partyEmail is the column that holds the e-mail address of a party's
// table.
var partyEmail = map[string]string{"systemuser": "internalemailaddress", "contact": "emailaddress1", "account": "emailaddress1"}

// fillAddresses gives parties that are bound to a user, contact or account
// but carry no addressused the address of what they are bound to, read in
// batches: an attendee without an address could not reach a calendar.
func (c *Connector) fillAddresses(ctx context.Context, cl *client, byActivity map[string][]party, caller string) error {
	want := map[string][]string{} // kind → ids
	for _, ps := range byActivity {
		for _, p := range ps {
			if p.address == "" && p.partyID != "" && partyEmail[p.kind] != "" && !slices.Contains(want[p.kind], p.partyID) {
				want[p.kind] = append(want[p.kind], p.partyID)
			}
		}
	}
	found := map[string]string{}
	for kind, ids := range want {
		set, key, col := partySets[kind], kind+"id", partyEmail[kind]
		for _, f := range orFilters(ids, userBatch, func(id string) string { return key + " eq " + id }) {
			rows, err := cl.list(ctx, set+"?$select="+key+","+col+"&$filter="+url.QueryEscape(f), caller)
			if err != nil {
				return err
			}
			for _, r := range rows {
				found[strings.ToLower(r.str(key))] = r.str(col)
			}
		}
	}
	for act, ps := range byActivity {
		for i := range ps {
			if ps[i].address == "" {
				ps[i].address = found[ps[i].partyID]
			}
		}
		byActivity[act] = ps
	}
	return nil
}
