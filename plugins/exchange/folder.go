package exchange

import (
	"context"
	"net/url"

	"github.com/syncgate/syncgate/sdk"
)

// The gateway's tracking by folder reads a record's "folder": the display
// name of the folder, calendar or To Do list that holds the item. The
// canonical model does not have that field yet, so it is filled only once
// the entity's schema has it; until then a record carries none (and costs
// no request).
func hasFolderField(entity string) bool {
	s := sdk.Schemas[entity]
	if s == nil {
		return false
	}
	_, ok := s.Field("folder")
	return ok
}

// addFolder sets rec's folder to the name of the mailbox's default contacts
// folder, calendar or To Do list, the one each feed reads.
func addFolder(ctx context.Context, s *state, mailbox, entity string, rec *sdk.Record) error {
	if !hasFolderField(entity) {
		return nil
	}
	var name string
	var err error
	switch entity {
	case "contact":
		name, err = s.resolveOnce("foldername/"+mailbox, func() (string, error) {
			id, err := contactsFolder(ctx, s, mailbox)
			if err != nil || id == "" {
				return "", err
			}
			return displayName(ctx, s, mailbox, userPath(mailbox)+"/contactFolders/"+url.PathEscape(id)+"?$select=displayName", "displayName")
		})
	case "task":
		name, err = s.resolveOnce("listname/"+mailbox, func() (string, error) {
			id, err := taskList(ctx, s, mailbox)
			if err != nil {
				return "", err
			}
			return displayName(ctx, s, mailbox, userPath(mailbox)+"/todo/lists/"+url.PathEscape(id), "displayName")
		})
	default:
		name, err = s.resolveOnce("calendarname/"+mailbox, func() (string, error) {
			return displayName(ctx, s, mailbox, userPath(mailbox)+"/calendar?$select=name", "name")
		})
	}
	if err != nil {
		return err
	}
	if name != "" {
		rec.Fields["folder"] = sdk.String(name)
	}
	return nil
}

// displayName reads one string property of a container.
func displayName(ctx context.Context, s *state, mailbox, path, prop string) (string, error) {
	var v map[string]any
	if _, err := s.g.do(ctx, call{method: "GET", path: path, mailbox: mailbox}, &v); err != nil {
		return "", err
	}
	name, _ := v[prop].(string)
	return name, nil
}
