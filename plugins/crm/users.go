package crm

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/syncgate/syncgate/sdk"
)

// user is a binding scope resolved to its Dataverse user.
type user struct {
	id    string // systemuserid, lower case
	email string // internalemailaddress, lower case
}

// routingKeys are the keys a record concerning u carries: its id (owner,
// resolved parties) and its address (parties known only by addressused).
func (u user) routingKeys() []string {
	keys := []string{u.id}
	if u.email != "" {
		keys = append(keys, u.email)
	}
	return keys
}

// users resolves binding scopes (a systemuserid or an
// internalemailaddress) to Dataverse users, and remembers them: scopes do
// not change owners, and every Fetch and Apply needs its caller.
type users struct {
	mu   sync.Mutex
	byID map[string]user // by scope as given, lower case
}

const userBatch = 20 // scopes per query: short enough for any URL limit

// resolve returns the users of scopes, querying those not known yet in
// batches. A scope that matches no enabled user gets no entry.
func (us *users) resolve(ctx context.Context, c *client, scopes []string) (map[string]user, error) {
	out := map[string]user{}
	var missing []string
	us.mu.Lock()
	for _, s := range scopes {
		k := strings.ToLower(strings.TrimSpace(s))
		if u, ok := us.byID[k]; ok {
			out[k] = u
		} else if k != "" && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	us.mu.Unlock()
	term := func(s string) string {
		if isGUID(s) {
			return "systemuserid eq " + s
		}
		return "internalemailaddress eq " + odataString(s)
	}
	for _, f := range orFilters(missing, userBatch, term) {
		rows, err := c.list(ctx, "systemusers?$select=systemuserid,internalemailaddress&$filter="+url.QueryEscape(f), "")
		if err != nil {
			return nil, err
		}
		us.mu.Lock()
		if us.byID == nil {
			us.byID = map[string]user{}
		}
		for _, r := range rows {
			u := user{id: strings.ToLower(r.str("systemuserid")), email: strings.ToLower(r.str("internalemailaddress"))}
			for _, s := range missing {
				if s == u.id || s == u.email {
					us.byID[s], out[s] = u, u
				}
			}
		}
		us.mu.Unlock()
	}
	return out, nil
}

// caller returns the systemuserid to impersonate for scope.
func (us *users) caller(ctx context.Context, c *client, scope string) (user, error) {
	if strings.TrimSpace(scope) == "" {
		return user{}, sdk.NewError(sdk.ErrPermanent, "no scope given: Fetch and Apply act as a binding's Dataverse user")
	}
	found, err := us.resolve(ctx, c, []string{scope})
	if err != nil {
		return user{}, err
	}
	u, ok := found[strings.ToLower(strings.TrimSpace(scope))]
	if !ok {
		return user{}, sdk.NewError(sdk.ErrConfig, "no Dataverse user has the id or internalemailaddress %q: check the binding's crm user", scope)
	}
	return u, nil
}

// byEmail returns a known user with address email, for binding a party to
// the user instead of leaving it unresolved.
func (us *users) byEmail(email string) (user, bool) {
	us.mu.Lock()
	defer us.mu.Unlock()
	u, ok := us.byID[strings.ToLower(email)]
	return u, ok
}
