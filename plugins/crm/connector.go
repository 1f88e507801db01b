// Package crm is syncgate's CRM connector for Microsoft Dataverse (Dynamics
// 365), over the Dataverse Web API v9.2 (OData v4) with plain net/http.
//
// Feeds are per endpoint: one change-tracking feed per entity, read once for
// the whole org and routed to bindings by owner and activity parties. Fetch
// and Apply act as the binding's Dataverse user (impersonation), so
// ownership and per-user service limits are that user's. The syncgate id
// lives in a custom column (sg_syncgateid unless configured).
//
// This package must never import the Dataverse emulator
// (plugins/crm/dataverseemu): the two are written apart from the
// documentation so that they cannot agree on a mistake.
package crm

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Connector is the Dataverse connector. Create it with New.
type Connector struct {
	raw      []byte
	entities map[string]*entity

	mu  sync.RWMutex
	cfg Config
	cl  *client
	log sdk.Logger

	users *users
	zones map[string]bool // entity set → whether it has the zone code column
}

var _ sdk.Connector = (*Connector)(nil)

// New returns a connector serving the manifest src (its connector.hcl). It
// panics if src does not parse: the embedded manifest is part of the build.
func New(src []byte) *Connector {
	if _, ds := manifest.Parse(manifest.FileName, src); ds.HasErrors() {
		panic(fmt.Sprintf("crm: embedded manifest: %s", ds.Error()))
	}
	return &Connector{raw: src, entities: entities(), users: &users{}}
}

// Manifest returns the manifest the connector was built with.
func (c *Connector) Manifest() []byte { return c.raw }

// Configure checks the settings. It makes no request: Check verifies that
// the org answers. The host calls it once, before any other call, in each
// process it launches; the state it sets is read without locks after that.
func (c *Connector) Configure(_ context.Context, env sdk.Env, cfg sdk.Fields) sdk.Diagnostics {
	conf, ds := parseConfig(cfg)
	if ds.HasErrors() {
		return ds
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.cl, c.log = conf, newClient(conf), env.Logger
	c.users = &users{}
	c.zones = map[string]bool{}
	return ds
}

func (c *Connector) configured() (*client, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cl == nil {
		return nil, sdk.NewError(sdk.ErrConfig, "crm connector is not configured")
	}
	return c.cl, nil
}

func (c *Connector) warn(msg string, args ...any) {
	if c.log != nil {
		c.log.Warn(msg, args...)
	}
}

// Check gets a token, reads the org, and resolves each scope (a
// systemuserid or an internalemailaddress) to its routing keys: the user's
// id, which owners and resolved parties carry, and its address, which
// parties known only by address carry.
func (c *Connector) Check(ctx context.Context, scopes []string) (res sdk.CheckResult, err error) {
	cl, err := c.configured()
	if err != nil {
		return res, err
	}
	if _, err := cl.do(ctx, request{method: http.MethodGet, url: "systemusers?$select=systemuserid&$top=1"}); err != nil {
		e := sdk.AsError(err)
		if e.Kind == sdk.ErrAuth || e.Kind == sdk.ErrConfig || e.Kind == sdk.ErrPermanent || e.Kind == sdk.ErrNotFound {
			res.Diagnostics = append(res.Diagnostics, sdk.Errorf([]string{"url"}, "the org does not answer", "%s", e.Message))
			return res, nil
		}
		return res, err
	}
	for _, name := range []string{"contact", "appointment", "task", "service_appointment"} {
		for _, t := range c.entities[name].tables {
			// The syncgate id column is the org's to create; without it no
			// feed or write of the table works.
			_, err := cl.do(ctx, request{method: http.MethodGet, url: t.set + "?$select=" + t.key + "," + c.cfg.IDColumn + "&$top=1"})
			if sdk.IsKind(err, sdk.ErrPermanent) {
				res.Diagnostics = append(res.Diagnostics, sdk.Errorf([]string{"id_column"}, "the syncgate id column is missing",
					"the %s table has no column %s (%s); create it as a single line of text (100 characters), or set id_column to the column that holds the syncgate id",
					t.logical, c.cfg.IDColumn, sdk.AsError(err).Message))
			} else if err != nil {
				return res, err
			}
		}
	}
	found, err := c.users.resolve(ctx, cl, scopes)
	if err != nil {
		return res, err
	}
	for _, s := range scopes {
		info := sdk.ScopeInfo{Scope: s}
		if u, ok := found[strings.ToLower(strings.TrimSpace(s))]; ok {
			info.RoutingKeys = u.routingKeys()
		} else {
			info.Diagnostics = sdk.Diagnostics{sdk.Errorf([]string{"crm_user"}, "no such Dataverse user",
				"no systemuser has the id or internalemailaddress %q; use the user's primary e-mail address as Dataverse shows it", s)}
		}
		res.Scopes = append(res.Scopes, info)
	}
	return res, nil
}

// entity returns a canonical entity the connector syncs.
func (c *Connector) entity(name string) (*entity, error) {
	if e, ok := c.entities[name]; ok {
		return e, nil
	}
	return nil, sdk.NewError(sdk.ErrPermanent, "crm does not sync %q; it syncs contact, appointment, task and service_appointment", name)
}
