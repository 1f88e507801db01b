package caldav

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// collKind says whether a collection holds calendar objects or vCards.
type collKind uint8

const (
	kindCalendar collKind = iota + 1
	kindAddressBook
)

// collection is one calendar or address book of the account.
type collection struct {
	Href  string
	Kind  collKind
	Comps []string // the components a calendar takes (VEVENT, VTODO); empty means any
	Sync  bool     // it answers sync-collection (RFC 6578)
}

// holds reports whether the collection holds items of entity.
func (c collection) holds(entity string) bool {
	if entity == "contact" {
		return c.Kind == kindAddressBook
	}
	if c.Kind != kindCalendar {
		return false
	}
	comp := "VEVENT"
	if entity == "task" {
		comp = "VTODO"
	}
	return len(c.Comps) == 0 || slices.Contains(c.Comps, comp)
}

const collProps = `<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:resourcetype/><d:sync-token/>` +
	`<d:supported-report-set/><c:supported-calendar-component-set/></d:prop></d:propfind>`

// discover finds the account's collections: the configured ones, or else
// every calendar and address book under the principal's calendar-home-set
// and addressbook-home-set (RFC 4791 6.2.1, RFC 6352 7.1.1), the principal
// being the current-user-principal (RFC 5397) of the login.
func (c *client) discover(ctx context.Context, calendars, addressBooks []string) ([]collection, error) {
	var out []collection
	if len(calendars) == 0 || len(addressBooks) == 0 {
		principal, calHome, cardHome, err := c.homes(ctx)
		if err != nil {
			return nil, err
		}
		if len(calendars) == 0 && calHome != "" {
			found, err := c.collections(ctx, calHome, "1")
			if err != nil {
				return nil, err
			}
			out = append(out, filterKind(found, kindCalendar)...)
		}
		if len(addressBooks) == 0 && cardHome != "" {
			found, err := c.collections(ctx, cardHome, "1")
			if err != nil {
				return nil, err
			}
			out = append(out, filterKind(found, kindAddressBook)...)
		}
		if calHome == "" && cardHome == "" {
			return nil, fmt.Errorf("the principal %s names neither a calendar-home-set nor an addressbook-home-set: set calendars and address_books", principal)
		}
	}
	for _, list := range [][]string{calendars, addressBooks} {
		for _, href := range list {
			found, err := c.collections(ctx, normHref(href), "0")
			if err != nil {
				return nil, fmt.Errorf("collection %s: %w", href, err)
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s is neither a calendar nor an address book", href)
			}
			out = append(out, found...)
		}
	}
	return out, nil
}

func filterKind(cs []collection, k collKind) []collection {
	var out []collection
	for _, c := range cs {
		if c.Kind == k {
			out = append(out, c)
		}
	}
	return out
}

// homes finds the login's principal and its home sets.
func (c *client) homes(ctx context.Context) (principal, calHome, cardHome string, err error) {
	for _, start := range []string{c.base.Path, "/.well-known/caldav", "/"} {
		if start == "" {
			start = "/"
		}
		ms, e := c.multistatus(ctx, "PROPFIND", start, "0",
			`<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>`)
		if e != nil {
			if isStatus(e, http.StatusUnauthorized) {
				return "", "", "", e
			}
			err = e
			continue
		}
		for _, r := range responses(ms) {
			principal = or(principal, r.Principal)
		}
		if principal != "" {
			break
		}
	}
	if principal == "" {
		if err == nil {
			err = fmt.Errorf("the server names no current-user-principal for this login: set calendars and address_books")
		}
		return "", "", "", err
	}
	ms, err := c.multistatus(ctx, "PROPFIND", principal, "0", `<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" `+
		`xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><c:calendar-home-set/><card:addressbook-home-set/></d:prop></d:propfind>`)
	if err != nil {
		return principal, "", "", err
	}
	for _, r := range responses(ms) {
		calHome, cardHome = or(calHome, r.CalendarHome), or(cardHome, r.CardHome)
	}
	return principal, calHome, cardHome, nil
}

func isStatus(err error, status int) bool {
	he, ok := err.(*httpError)
	return ok && he.status == status
}

// collections lists the calendars and address books at href (Depth 0) or
// in it (Depth 1).
func (c *client) collections(ctx context.Context, href, depth string) ([]collection, error) {
	ms, err := c.multistatus(ctx, "PROPFIND", href, depth, collProps)
	if err != nil {
		return nil, err
	}
	var out []collection
	for _, r := range responses(ms) {
		col := collection{Href: strings.TrimSuffix(r.Href, "/") + "/", Comps: r.Comps}
		switch {
		case slices.Contains(r.Types, "calendar"):
			col.Kind = kindCalendar
		case slices.Contains(r.Types, "addressbook"):
			col.Kind = kindAddressBook
		default:
			continue
		}
		col.Sync = r.HasToken || slices.Contains(r.Reports, "sync-collection")
		out = append(out, col)
	}
	slices.SortFunc(out, func(a, b collection) int { return strings.Compare(a.Href, b.Href) })
	return out, nil
}
