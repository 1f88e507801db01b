// Package caldav is the CalDAV (RFC 4791) and CardDAV (RFC 6352) mailbox
// connector: Google, iCloud, Fastmail, Nextcloud, SOGo, Radicale and
// Xandikos accounts as syncgate mailboxes. Contacts are vCards in address
// books; appointments, service appointments and tasks are VEVENTs and
// VTODOs in calendars. Each entity has one feed per binding, read with the
// sync-collection REPORT (RFC 6578) or, where a collection lacks it, by
// comparing getetag listings.
//
// It speaks plain HTTP with the conditional requests (If-None-Match: *,
// If-Match) that make writes safe, and keeps no state on disk: the etag
// listings of the fallback live in the host's key-value store.
package caldav

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Connector is the CalDAV/CardDAV connector. Create it with New.
type Connector struct {
	raw []byte
	m   *manifest.Manifest

	mu     sync.Mutex
	cfg    *config
	cl     *client
	kv     sdk.KV
	log    sdk.Logger
	colls  []collection // discovered lazily, once per Configure
	rounds roundCache
	bodies bodyCache
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Stopper   = (*Connector)(nil)
)

// Entities are the canonical entities the connector syncs.
var Entities = []string{"contact", "appointment", "task", "service_appointment"}

// New returns a connector that serves the manifest src (its connector.hcl).
// It panics if src does not parse: an embedded manifest is part of the
// build.
func New(src []byte) *Connector {
	m, diags := manifest.Parse(manifest.FileName, src)
	if diags.HasErrors() {
		panic(fmt.Sprintf("caldav: embedded manifest: %s", diags.Error()))
	}
	return &Connector{raw: src, m: m}
}

// Manifest returns the manifest the connector was built with, byte for byte.
func (c *Connector) Manifest() []byte { return c.raw }

type config struct {
	url          *url.URL
	username     string
	password     string
	calendars    []string
	addressBooks []string
	etagsOnly    bool
	timeout      time.Duration
}

func stringList(v sdk.Value) []string {
	var out []string
	for _, x := range v.ListVal() {
		if s := strings.TrimSpace(x.Str()); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Configure checks the settings; the server is first asked in Check.
func (c *Connector) Configure(_ context.Context, env sdk.Env, f sdk.Fields) sdk.Diagnostics {
	var ds sdk.Diagnostics
	cfg := &config{username: f["username"].Str(), password: f["password"].Str(), calendars: stringList(f["calendars"]),
		addressBooks: stringList(f["address_books"]), timeout: 5 * time.Minute}
	u, err := url.Parse(strings.TrimSpace(f["url"].Str()))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ds = append(ds, sdk.Errorf([]string{"url"}, "not a server address", "want http(s)://host[:port]/path, got %q", f["url"].Str()))
	} else {
		if u.Scheme == "http" && u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1" {
			ds = append(ds, sdk.Warnf([]string{"url"}, "password sent in clear", "%s is plain http: the password crosses the network unencrypted; use https", u.Redacted()))
		}
		cfg.url = u
	}
	if cfg.username == "" {
		ds = append(ds, sdk.Errorf([]string{"username"}, "username missing", "set username to the account's login name"))
	}
	switch mode := f["change_detection"].Str(); mode {
	case "", "auto":
	case "etags":
		cfg.etagsOnly = true
	default:
		ds = append(ds, sdk.Errorf([]string{"change_detection"}, "unknown change detection", `want "auto" (sync-collection where the server has it) or "etags" (compare getetag listings), got %q`, mode))
	}
	if ds.HasErrors() {
		return ds
	}
	kv := env.KV
	if kv == nil {
		kv = newMemKV()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.kv, c.log, c.colls = cfg, kv, env.Logger, nil
	c.cl = &client{base: cfg.url, user: cfg.username, password: cfg.password, http: &http.Client{Timeout: cfg.timeout}}
	return ds
}

// Stop drops idle connections.
func (c *Connector) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		c.cl.http.CloseIdleConnections()
	}
	return nil
}

// state returns the configured client and the discovered collections,
// discovering them on first use.
func (c *Connector) state(ctx context.Context) (*client, *config, []collection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == nil {
		return nil, nil, nil, sdk.NewError(sdk.ErrConfig, "the connector is not configured")
	}
	if c.colls == nil {
		colls, err := c.cl.discover(ctx, c.cfg.calendars, c.cfg.addressBooks)
		if err != nil {
			return nil, nil, nil, discoveryError(err)
		}
		if c.cfg.etagsOnly {
			for i := range colls {
				colls[i].Sync = false
			}
		}
		c.colls = colls
	}
	return c.cl, c.cfg, c.colls, nil
}

func discoveryError(err error) *sdk.Error {
	e := typed(err)
	if e.Kind == sdk.ErrPermanent || e.Kind == sdk.ErrNotFound {
		e = sdk.NewError(sdk.ErrConfig, "finding the account's calendars and address books: %s", e.Message)
	}
	return e
}

// checkScope refuses a binding scope that is not the configured account:
// one endpoint logs in as one user, and that user's collections are the
// mailbox.
func checkScope(cfg *config, scope string) error {
	if scope != "" && !strings.EqualFold(scope, cfg.username) {
		return sdk.NewError(sdk.ErrConfig, "scope %q is not this endpoint's account %q: a CalDAV endpoint serves the one account it logs in as; configure one endpoint per account", scope, cfg.username)
	}
	return nil
}

// Check logs in, finds the collections and says which entity each serves.
func (c *Connector) Check(ctx context.Context, scopes []string) (res sdk.CheckResult, err error) {
	c.mu.Lock()
	c.colls = nil // find them again: an operator may have added a calendar
	c.mu.Unlock()
	_, cfg, colls, err := c.state(ctx)
	if err != nil {
		e := sdk.AsError(err)
		if e.Kind == sdk.ErrRetryable || e.Kind == sdk.ErrThrottled {
			return res, err
		}
		field := "url"
		if e.Kind == sdk.ErrAuth {
			field = "password"
		}
		res.Diagnostics = append(res.Diagnostics, sdk.Errorf([]string{field}, "the server refuses", "%s", e.Message))
		return res, nil
	}
	for _, entity := range Entities {
		if len(collsFor(colls, entity)) == 0 {
			res.Diagnostics = append(res.Diagnostics, sdk.Warnf([]string{entity}, "no collection", "the account has no %s for %s items: they will not sync", map[bool]string{true: "address book", false: "calendar"}[entity == "contact"], entity))
		}
	}
	for _, s := range scopes {
		info := sdk.ScopeInfo{Scope: s, RoutingKeys: []string{strings.ToLower(cfg.username)}}
		if err := checkScope(cfg, s); err != nil {
			info.Diagnostics = sdk.Diagnostics{sdk.Errorf([]string{"mailbox"}, "not this account", "%s", sdk.AsError(err).Message)}
		}
		res.Scopes = append(res.Scopes, info)
	}
	return res, nil
}

func collsFor(colls []collection, entity string) []collection {
	var out []collection
	for _, col := range colls {
		if col.holds(entity) {
			out = append(out, col)
		}
	}
	return out
}

// Fetch reads items with one multiget REPORT per collection.
func (c *Connector) Fetch(ctx context.Context, scope, entity string, ids []string) ([]sdk.FetchResult, error) {
	cl, cfg, colls, err := c.state(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkScope(cfg, scope); err != nil {
		return nil, err
	}
	if !knownEntity(entity) {
		return nil, sdk.NewError(sdk.ErrPermanent, "the caldav connector has no entity %q", entity)
	}
	out := make([]sdk.FetchResult, len(ids))
	byColl := map[string][]int{}
	kinds := map[string]collKind{}
	for i, id := range ids {
		out[i].ID = id
		col, ok := owner(colls, entity, id)
		if !ok {
			out[i].Err = sdk.NewError(sdk.ErrNotFound, "%s is in none of the account's collections for %s", id, entity)
			continue
		}
		if m, ok := c.bodies.take(id); ok {
			out[i].Record, out[i].Err = toResult(entity, m)
			continue
		}
		byColl[col.Href] = append(byColl[col.Href], i)
		kinds[col.Href] = col.Kind
	}
	for href, idx := range byColl {
		for start := 0; start < len(idx); start += 100 {
			batch := idx[start:min(start+100, len(idx))]
			hrefs := make([]string, len(batch))
			for j, i := range batch {
				hrefs[j] = ids[i]
			}
			got, err := cl.multiget(ctx, href, kinds[href], hrefs)
			if err != nil {
				return nil, typed(err)
			}
			for _, i := range batch {
				m, ok := got[ids[i]]
				if !ok || m.Gone {
					out[i].Err = sdk.NewError(sdk.ErrNotFound, "%s: no such item", ids[i])
					continue
				}
				out[i].Record, out[i].Err = toResult(entity, m)
			}
		}
	}
	return out, nil
}

func knownEntity(e string) bool {
	for _, x := range Entities {
		if x == e {
			return true
		}
	}
	return false
}

// owner finds the collection of entity that holds the item id (an href).
func owner(colls []collection, entity, id string) (collection, bool) {
	dir := path.Dir(id) + "/"
	for _, col := range colls {
		if col.Href == dir && col.holds(entity) {
			return col, true
		}
	}
	return collection{}, false
}

func toResult(entity string, m member) (*sdk.Record, *sdk.Error) {
	rec, err := toRecord(entity, m)
	if err != nil {
		return nil, sdk.AsError(err)
	}
	return rec, nil
}

// toRecord parses a member as entity; a member of another entity is not
// found, as it would be in a backend with one folder per entity.
func toRecord(entity string, m member) (*sdk.Record, error) {
	rec := &sdk.Record{Entity: entity, ID: m.Href, Version: m.ETag}
	if entity == "contact" {
		card, err := parseCard(m.Data)
		if err != nil {
			return nil, sdk.NewError(sdk.ErrPermanent, "%s: %v", m.Href, err)
		}
		rec.Fields, rec.CorrelationKey = readCard(card), cardKey(card)
		return rec, nil
	}
	it, err := parseCal(m.Data)
	if err != nil {
		return nil, sdk.NewError(sdk.ErrPermanent, "%s: %v", m.Href, err)
	}
	if it.entity != entity {
		return nil, sdk.NewError(sdk.ErrNotFound, "%s holds a %s, not a %s", m.Href, or(it.entity, "calendar object"), entity)
	}
	rec.CorrelationKey = it.key
	if p := it.master.Props.Get(ical.PropLastModified); p != nil {
		rec.Modified, _ = p.DateTime(time.UTC)
	}
	f, err := readEvent(it)
	if err != nil {
		return nil, sdk.NewError(sdk.ErrPermanent, "%s: %v", m.Href, err)
	}
	rec.Fields = f
	return rec, nil
}

// Apply performs each op with conditional requests: a create is a PUT with
// If-None-Match: * to a name derived from the syncgate id, so a retried
// create lands on the item it made before; updates and deletes carry
// If-Match with the version the gateway saw.
func (c *Connector) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	cl, cfg, colls, err := c.state(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkScope(cfg, scope); err != nil {
		return nil, err
	}
	if !knownEntity(entity) {
		return nil, sdk.NewError(sdk.ErrPermanent, "the caldav connector has no entity %q", entity)
	}
	out := make([]sdk.OpResult, len(ops))
	for i, op := range ops {
		c.bodies.drop(op.ID)
		var err error
		switch op.Kind {
		case sdk.OpCreate:
			out[i], err = c.create(ctx, cl, colls, entity, op)
		case sdk.OpUpdate:
			out[i], err = c.update(ctx, cl, colls, entity, op)
		case sdk.OpDelete:
			out[i].ID = op.ID
			err = c.delete(ctx, cl, colls, entity, op)
		default:
			err = sdk.NewError(sdk.ErrPermanent, "unknown op kind %d", op.Kind)
		}
		if err != nil {
			out[i].Err = sdk.AsError(err)
		}
	}
	return out, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// itemName is the resource name of a new item: the syncgate id when it is a
// safe file name, else its hash, so that the same create always targets
// the same href.
func itemName(key, ext string) string {
	if key == "" {
		return newUID() + ext
	}
	if len(key) <= 100 && !unsafeName.MatchString(key) && !strings.HasPrefix(key, ".") {
		return key + ext
	}
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16]) + ext
}

func newUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func contentType(entity string) (string, string) {
	if entity == "contact" {
		return "text/vcard; charset=utf-8", ".vcf"
	}
	return "text/calendar; charset=utf-8", ".ics"
}

func (c *Connector) create(ctx context.Context, cl *client, colls []collection, entity string, op sdk.Op) (sdk.OpResult, error) {
	targets := collsFor(colls, entity)
	if len(targets) == 0 {
		return sdk.OpResult{}, sdk.NewError(sdk.ErrConfig, "the account has no collection for %s items; create one or name it in the endpoint's settings", entity)
	}
	ctype, ext := contentType(entity)
	href := joinHref(targets[0].Href, itemName(op.CorrelationKey, ext))
	body, err := encodeNew(entity, op.Fields, op.CorrelationKey)
	if err != nil {
		return sdk.OpResult{}, err
	}
	etag, err := cl.put(ctx, href, ctype, body, "", true)
	if isStatus(err, http.StatusPreconditionFailed) {
		// Something is at that name already: the item an earlier attempt
		// made, if it carries the same syncgate id.
		m, gerr := cl.get(ctx, href)
		if gerr != nil {
			return sdk.OpResult{}, typed(gerr)
		}
		if op.CorrelationKey != "" && keyOf(entity, m.Data) == op.CorrelationKey {
			return sdk.OpResult{ID: href, Version: m.ETag}, nil
		}
		return sdk.OpResult{}, sdk.Conflict(m.ETag, "%s exists and carries another syncgate id", href)
	}
	if err != nil {
		return sdk.OpResult{}, typed(err)
	}
	return sdk.OpResult{ID: href, Version: etag}, nil
}

func keyOf(entity, data string) string {
	if entity == "contact" {
		card, err := parseCard(data)
		if err != nil {
			return ""
		}
		return cardKey(card)
	}
	it, err := parseCal(data)
	if err != nil {
		return ""
	}
	return it.key
}

func encodeNew(entity string, f sdk.Fields, key string) ([]byte, error) {
	if entity == "contact" {
		card := vcard.Card{}
		writeCard(card, f, key, newUID())
		return encodeCard(card)
	}
	it := &calItem{cal: ical.NewCalendar()}
	if err := writeEvent(it, entity, f, key, time.Now()); err != nil {
		return nil, sdk.NewError(sdk.ErrPermanent, "%v", err)
	}
	return encodeCal(it.cal)
}

// update reads the item, applies the patch to its canonical fields, and
// writes it back with If-Match: properties the connector does not map stay
// as they were.
func (c *Connector) update(ctx context.Context, cl *client, colls []collection, entity string, op sdk.Op) (sdk.OpResult, error) {
	res := sdk.OpResult{ID: op.ID}
	if _, ok := owner(colls, entity, op.ID); !ok {
		return res, sdk.NewError(sdk.ErrNotFound, "%s is in none of the account's collections for %s", op.ID, entity)
	}
	m, err := cl.get(ctx, op.ID)
	if err != nil {
		return res, typed(err)
	}
	if op.IfMatch != "" && m.ETag != "" && m.ETag != op.IfMatch {
		return res, sdk.Conflict(m.ETag, "%s changed since version %s", op.ID, op.IfMatch)
	}
	ifMatch := or(op.IfMatch, m.ETag)
	rec, err := toRecord(entity, m)
	if err != nil {
		return res, err
	}
	merged := rec.Fields.Clone()
	for k, v := range op.Fields {
		if v.IsNull() {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	var body []byte
	ctype, _ := contentType(entity)
	if entity == "contact" {
		card, _ := parseCard(m.Data)
		writeCard(card, merged, or(op.CorrelationKey, rec.CorrelationKey), newUID())
		body, err = encodeCard(card)
	} else {
		it, _ := parseCal(m.Data)
		if err = writeEvent(it, entity, merged, or(op.CorrelationKey, rec.CorrelationKey), time.Now()); err == nil {
			body, err = encodeCal(it.cal)
		}
	}
	if err != nil {
		return res, sdk.NewError(sdk.ErrPermanent, "%s: %v", op.ID, err)
	}
	etag, err := cl.put(ctx, op.ID, ctype, body, ifMatch, false)
	if err != nil {
		return res, c.conflictVersion(ctx, cl, op.ID, err)
	}
	res.Version = etag
	return res, nil
}

// conflictVersion adds the item's current version to a 412.
func (c *Connector) conflictVersion(ctx context.Context, cl *client, href string, err error) error {
	e := typed(err)
	if e.Kind == sdk.ErrConflict {
		if m, gerr := cl.get(ctx, href); gerr == nil {
			e.CurrentVersion = m.ETag
		}
	}
	return e
}

func (c *Connector) delete(ctx context.Context, cl *client, colls []collection, entity string, op sdk.Op) error {
	if _, ok := owner(colls, entity, op.ID); !ok {
		return sdk.NewError(sdk.ErrNotFound, "%s is in none of the account's collections for %s", op.ID, entity)
	}
	if err := cl.remove(ctx, op.ID, op.IfMatch); err != nil {
		return c.conflictVersion(ctx, cl, op.ID, err)
	}
	return nil
}

// memKV stands in for the host's store when a test configures the
// connector in-process without one.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *memKV) Put(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = append([]byte(nil), v...)
	return nil
}

func (k *memKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

func (k *memKV) List(_ context.Context, prefix string) (map[string][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string][]byte{}
	for key, v := range k.m {
		if strings.HasPrefix(key, prefix) {
			out[key] = v
		}
	}
	return out, nil
}
