package exchange

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/syncgate/syncgate/sdk"
)

// itemHead is what every Graph item answer has.
type itemHead struct {
	ID           string `json:"id"`
	ETag         string `json:"@odata.etag"`
	ChangeKey    string `json:"changeKey"`
	LastModified string `json:"lastModifiedDateTime"`
}

func (h itemHead) version() string { return versionOf(h.ETag, h.ChangeKey) }

// postItem creates an item under collection and returns its id and version
// (read back when the answer leaves the version out).
func postItem(ctx context.Context, c *Connector, s *state, ek entityKind, mailbox, collection string, body map[string]any) (sdk.OpResult, error) {
	var h itemHead
	if _, err := s.g.do(ctx, call{method: "POST", path: collection, mailbox: mailbox, body: body}, &h); err != nil {
		return sdk.OpResult{}, err
	}
	if h.ID == "" {
		return sdk.OpResult{}, sdk.NewError(sdk.ErrRetryable, "Graph created an item under %s but its answer has no id", redact(collection))
	}
	if h.version() == "" {
		rec, err := ek.fetch(ctx, c, s, mailbox, h.ID)
		if err != nil {
			return sdk.OpResult{}, err
		}
		return sdk.OpResult{ID: h.ID, Version: rec.Version}, nil
	}
	return sdk.OpResult{ID: h.ID, Version: h.version()}, nil
}

// patchItem updates an item with If-Match and returns its new version. A
// 412 becomes a conflict carrying the version the item has now.
func patchItem(ctx context.Context, c *Connector, s *state, ek entityKind, mailbox, id, itemPath, ifMatch string, body map[string]any) (sdk.OpResult, error) {
	var h itemHead
	_, err := s.g.do(ctx, call{method: "PATCH", path: itemPath, mailbox: mailbox, body: body, ifMatch: ifMatch}, &h)
	if sdk.IsKind(err, sdk.ErrConflict) {
		return sdk.OpResult{}, c.conflict(ctx, s, ek, mailbox, id, err)
	}
	if err != nil {
		return sdk.OpResult{}, err
	}
	if h.version() == "" { // a 204 or a trimmed answer: read the version back
		rec, err := ek.fetch(ctx, c, s, mailbox, id)
		if err != nil {
			return sdk.OpResult{}, err
		}
		return sdk.OpResult{ID: id, Version: rec.Version}, nil
	}
	return sdk.OpResult{ID: id, Version: h.version()}, nil
}

// findByKey looks up the item of collection stamped with a syncgate id,
// for a create that may have succeeded before.
func findByKey(ctx context.Context, s *state, mailbox, collection, key string) (string, error) {
	var page struct {
		Value []itemHead `json:"value"`
	}
	q := url.Values{"$filter": {filterByKey(key)}, "$select": {"id"}}
	if _, err := s.g.do(ctx, call{method: "GET", path: collection + "?" + q.Encode(), mailbox: mailbox}, &page); err != nil {
		return "", err
	}
	if len(page.Value) == 0 {
		return "", nil
	}
	return page.Value[0].ID, nil
}

// existing returns the item a create that may have succeeded made, or a
// zero result when there is none.
func existing(ctx context.Context, c *Connector, s *state, ek entityKind, mailbox, collection string, op sdk.Op) (sdk.OpResult, error) {
	if !op.MayExist || op.CorrelationKey == "" {
		return sdk.OpResult{}, nil
	}
	id, err := findByKey(ctx, s, mailbox, collection, op.CorrelationKey)
	if err != nil || id == "" {
		return sdk.OpResult{}, err
	}
	rec, err := ek.fetch(ctx, c, s, mailbox, id)
	if err != nil {
		return sdk.OpResult{}, err
	}
	return sdk.OpResult{ID: id, Version: rec.Version}, nil
}

// confirmRemoved tells what an @removed entry means: a GET that says 404 is
// a delete; an item that is still there left the feed's scope (moved out of
// the folder, or out of the calendar window).
func confirmRemoved(ctx context.Context, s *state, mailbox, itemPath string) (sdk.ChangeKind, error) {
	_, err := s.g.do(ctx, call{method: "GET", path: itemPath + "?$select=id", mailbox: mailbox}, nil)
	switch {
	case sdk.IsKind(err, sdk.ErrNotFound):
		return sdk.ChangeDelete, nil
	case err != nil:
		return 0, err
	}
	return sdk.ChangeScopeExit, nil
}

// ---- contacts ----

func contactPath(_ context.Context, _ *state, mailbox, id string) (string, error) {
	return userPath(mailbox) + "/contacts/" + url.PathEscape(id), nil
}

// contactsFolder resolves the mailbox's default contacts folder: by its
// well-known name, or failing that through the parentFolderId of a contact
// of /contacts (which lists the default folder).
func contactsFolder(ctx context.Context, s *state, mailbox string) (string, error) {
	return s.resolveOnce("folder/"+mailbox, func() (string, error) {
		var h itemHead
		_, err := s.g.do(ctx, call{method: "GET", path: userPath(mailbox) + "/contactFolders/contacts?$select=id", mailbox: mailbox}, &h)
		if e := sdk.AsError(err); e != nil && e.Kind != sdk.ErrNotFound && e.Kind != sdk.ErrPermanent {
			return "", err
		}
		if h.ID != "" {
			return h.ID, nil
		}
		var page struct {
			Value []struct {
				ParentFolderID string `json:"parentFolderId"`
			} `json:"value"`
		}
		if _, err := s.g.do(ctx, call{method: "GET", path: userPath(mailbox) + "/contacts?$top=1&$select=parentFolderId", mailbox: mailbox}, &page); err != nil {
			return "", err
		}
		if len(page.Value) > 0 {
			return page.Value[0].ParentFolderID, nil
		}
		return "", nil
	})
}

func contactsStart(ctx context.Context, _ *Connector, s *state, mailbox string) (string, string, error) {
	folder, err := contactsFolder(ctx, s, mailbox)
	if err != nil {
		return "", "", err
	}
	if folder == "" {
		// An empty mailbox that does not resolve the well-known name:
		// the default folder's delta, reached without its id.
		return userPath(mailbox) + "/contacts/delta", "", nil
	}
	return userPath(mailbox) + "/contactFolders/" + url.PathEscape(folder) + "/contacts/delta", "", nil
}

func contactRecords(ctx context.Context, _ *Connector, s *state, mailbox string, entries []deltaEntry) ([]sdk.ChangeRecord, error) {
	return itemRecords(ctx, s, mailbox, "contact", entries, contactPath, func(raw json.RawMessage, r *sdk.ChangeRecord) {
		var h itemHead
		json.Unmarshal(raw, &h)
		r.Version, r.Modified = h.version(), parseGraphTime(h.LastModified)
	})
}

// itemRecords turns a round's entries into change records: an @removed
// entry confirmed by a GET of the item's path, any other entry described
// by head from its JSON.
func itemRecords(ctx context.Context, s *state, mailbox, entity string, entries []deltaEntry,
	path func(context.Context, *state, string, string) (string, error), head func(json.RawMessage, *sdk.ChangeRecord)) ([]sdk.ChangeRecord, error) {
	var recs []sdk.ChangeRecord
	for _, e := range entries {
		r := sdk.ChangeRecord{Entity: entity, ID: e.ID, Kind: sdk.ChangeUpsert}
		if e.Removed {
			p, err := path(ctx, s, mailbox, e.ID)
			if err != nil {
				return nil, err
			}
			if r.Kind, err = confirmRemoved(ctx, s, mailbox, p); err != nil {
				return nil, err
			}
		} else {
			head(e.Raw, &r)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func fetchContact(ctx context.Context, _ *Connector, s *state, mailbox, id string) (*sdk.Record, error) {
	p, _ := contactPath(ctx, s, mailbox, id)
	var gc graphContact
	if _, err := s.g.do(ctx, call{method: "GET", path: p + "?$expand=" + url.QueryEscape(expandProp(propSyncgateID)), mailbox: mailbox}, &gc); err != nil {
		return nil, err
	}
	return &sdk.Record{Entity: "contact", ID: id, Version: versionOf(gc.ETag, gc.ChangeKey), Modified: parseGraphTime(gc.LastModified),
		CorrelationKey: findProp(gc.ExtendedProperties, propSyncgateID), Fields: contactFields(&gc)}, nil
}

func createContact(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
	ek, _ := entityOf("contact")
	collection := userPath(mailbox) + "/contacts"
	if res, err := existing(ctx, c, s, ek, mailbox, collection, op); err != nil || res.ID != "" {
		return res, err
	}
	body := contactBody(op.Fields)
	body["singleValueExtendedProperties"] = []extProp{{ID: propSyncgateID, Value: op.CorrelationKey}}
	return postItem(ctx, c, s, ek, mailbox, collection, body)
}

func updateContact(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
	ek, _ := entityOf("contact")
	p, _ := contactPath(ctx, s, mailbox, op.ID)
	return patchItem(ctx, c, s, ek, mailbox, op.ID, p, op.IfMatch, contactBody(op.Fields))
}
