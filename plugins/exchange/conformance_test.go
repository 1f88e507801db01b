package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/exchange/graphemu"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// emulated is a connector configured against a Graph emulator.
type emulated struct {
	emu *graphemu.Emulator
	srv *httptest.Server
	c   *Connector
}

func newEmulated(t *testing.T, opts graphemu.Options, extra sdk.Fields) *emulated {
	t.Helper()
	if len(opts.Users) == 0 {
		opts.Users = []string{alice}
	}
	emu := graphemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c := New(readManifest(t))
	cfg := sdk.Fields{
		"tenant_id": sdk.String(testTenant), "client_id": sdk.String(graphemu.DefaultClientID),
		"client_secret": sdk.String(graphemu.DefaultClientSecret),
		"authority_url": sdk.String(srv.URL), "graph_url": sdk.String(srv.URL + "/v1.0"),
	}
	for k, v := range extra {
		cfg[k] = v
	}
	if ds := c.Configure(t.Context(), sdk.Env{Endpoint: "exchange", KV: newMemKV()}, cfg); ds.HasErrors() {
		t.Fatalf("Configure: %v", ds.Err())
	}
	return &emulated{emu: emu, srv: srv, c: c}
}

// TestConformance runs the SDK's conformance suite for every entity
// against the Graph emulator. The backend's out-of-band changes go through
// the emulator's /v1.0 API, as a user's Outlook would make them.
func TestConformance(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	sdktest.Run(t, e.c, &emuBackend{t: t, e: e, manifest: readManifest(t)})
}

// emuBackend is sdktest's Backend over the emulator's Graph API.
type emuBackend struct {
	t        *testing.T
	e        *emulated
	manifest []byte
	token    string
}

func (b *emuBackend) Manifest() []byte { return b.manifest }
func (b *emuBackend) Scope() string    { return alice }
func (b *emuBackend) Entities() []string {
	return []string{"contact", "appointment", "service_appointment", "task"}
}

func (b *emuBackend) FeedFor(entity string) sdk.Feed {
	name := map[string]string{"contact": feedContacts, "appointment": feedCalendar, "service_appointment": feedCalendar, "task": feedTasks}[entity]
	return sdk.Feed{Name: name, Scope: alice}
}

// Sample is the SDK's sample, within what Graph holds: appointments are
// within the calendar window, and a To Do task keeps its due time in UTC
// and has no percentage.
func (b *emuBackend) Sample(entity string, i int) sdk.Fields {
	f := sdktest.Sample(entity, i)
	switch entity {
	case "appointment", "service_appointment":
		day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 3+i)
		start := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, time.UTC)
		f["start"] = sdk.TimeIn(start, "Europe/Berlin")
		f["end"] = sdk.TimeIn(start.Add(time.Hour), "Europe/Berlin")
		f["organizer"] = sdk.String(alice)
	case "task":
		delete(f, "percent_complete")
		f["due"] = sdk.Time(f["due"].TimeVal().UTC())
	}
	return f
}

func (b *emuBackend) Change(entity string, f sdk.Fields) sdk.Fields { return sdktest.Change(entity, f) }

func (b *emuBackend) collection(ctx context.Context, entity string) string {
	switch entity {
	case "contact":
		return "/users/" + alice + "/contacts"
	case "task":
		s, _ := b.e.c.state()
		p, err := tasksPath(ctx, s, alice)
		if err != nil {
			b.t.Errorf("task list: %v", err)
		}
		return p
	}
	return "/users/" + alice + "/events"
}

// body maps canonical fields to Graph JSON as a user's client would write
// them; a service appointment carries the CRM's marker, as the copies the
// CRM side makes do.
func (be *emuBackend) body(entity string, f sdk.Fields) (b map[string]any) {
	switch entity {
	case "contact":
		return contactBody(f)
	case "task":
		return taskBody(f)
	}
	var data eventData
	if entity == "service_appointment" {
		data.Entity = entity
	}
	b = eventBody(f, entity, false, &data)
	return withData(b, data)
}

func (b *emuBackend) CreateOutOfBand(ctx context.Context, entity string, f sdk.Fields) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := b.call(ctx, "POST", b.collection(ctx, entity), b.body(entity, f), &out)
	return out.ID, err
}

func (b *emuBackend) UpdateOutOfBand(ctx context.Context, entity, id string, f sdk.Fields) error {
	return b.call(ctx, "PATCH", b.collection(ctx, entity)+"/"+url.PathEscape(id), b.body(entity, f), nil)
}

func (b *emuBackend) DeleteOutOfBand(ctx context.Context, entity, id string) error {
	return b.call(ctx, "DELETE", b.collection(ctx, entity)+"/"+url.PathEscape(id), nil, nil)
}

func (b *emuBackend) ExpireCursors(context.Context) error {
	b.e.emu.ExpireDeltaTokens()
	return nil
}

// call is a plain Graph request with its own token, as another client.
func (b *emuBackend) call(ctx context.Context, method, path string, body, out any) error {
	if b.token == "" {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {graphemu.DefaultClientID},
			"client_secret": {graphemu.DefaultClientSecret}, "scope": {graphScope}}
		resp, err := http.PostForm(b.e.srv.URL+"/"+testTenant+"/oauth2/v2.0/token", form)
		if err != nil {
			return err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		b.token = tok.AccessToken
	}
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.e.srv.URL+"/v1.0"+path, rd)
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// TestThousandContactsUnderThrottling drives the connector as the engine
// would, against an emulator that answers a fifth of all requests 429 and
// forgets its delta state once: 1,000 contacts written through Apply
// (throttled ops retried with MayExist, as after an unknown outcome), the
// feed collected meanwhile, a 410 answered by a full enumeration. At the
// end every contact exists exactly once with its own syncgate id, the feed
// has reported every one of them, and no more than 4 requests were ever in
// flight for the mailbox.
func TestThousandContactsUnderThrottling(t *testing.T) {
	const n = 1000
	e := newEmulated(t, graphemu.Options{RetryAfter: 2 * time.Millisecond}, nil)
	ctx := t.Context()
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	seen := map[string]bool{}
	resyncs := 0
	var cursor sdk.Cursor
	collect := func() {
		for tries := 0; ; tries++ {
			if tries > 200 {
				t.Fatal("the feed never completed a round")
			}
			recs, next, err := collectRound(ctx, e.c, feed, cursor)
			if e := sdk.AsError(err); e != nil {
				switch e.Kind {
				case sdk.ErrThrottled:
					time.Sleep(e.RetryAfter)
					continue
				case sdk.ErrResyncRequired:
					resyncs++
					cursor = nil
					continue
				}
				t.Fatalf("GetSyncData: %v", err)
			}
			for _, r := range recs {
				if r.Kind == sdk.ChangeUpsert {
					seen[r.ID] = true
				}
			}
			cursor = next
			return
		}
	}
	collect()
	e.emu.SetFaults(graphemu.Faults{ThrottleShare: 0.2})

	ids := map[string]string{} // syncgate id → item id
	var pending []sdk.Op
	for i := range n {
		pending = append(pending, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: fmt.Sprintf("sg-%04d", i),
			Fields: sdk.Fields{"given_name": sdk.String(fmt.Sprint("Person ", i)), "surname": sdk.String("Load"),
				"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(fmt.Sprintf("p%d@example.com", i)), "kind": sdk.String("work")}))}})
	}
	expired := false
	for round := 0; len(pending) > 0; round++ {
		if round > 200 {
			t.Fatalf("%d creates still pending", len(pending))
		}
		batch := pending[:min(len(pending), 100)]
		pending = pending[len(batch):]
		res, err := e.c.Apply(ctx, alice, "contact", batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			switch {
			case r.Err == nil:
				ids[batch[i].CorrelationKey] = r.ID
			case r.Err.Kind == sdk.ErrThrottled || r.Err.Kind == sdk.ErrRetryable:
				op := batch[i]
				op.MayExist = true
				pending = append(pending, op)
			default:
				t.Fatalf("create %s: %v", batch[i].CorrelationKey, r.Err)
			}
		}
		if round%3 == 0 {
			collect()
		}
		if !expired && len(ids) > n/2 {
			e.emu.ExpireDeltaTokens()
			expired = true
		}
	}
	collect()
	if resyncs != 1 {
		t.Errorf("%d resyncs, want exactly the one the expired delta state asked for", resyncs)
	}
	if len(ids) != n {
		t.Fatalf("%d contacts created, want %d", len(ids), n)
	}
	for key, id := range ids {
		if !seen[id] {
			t.Errorf("contact %s (%s) never came through the feed", id, key)
			break
		}
	}

	// Without faults: one full enumeration, each item fetched once.
	e.emu.SetFaults(graphemu.Faults{})
	recs, _, err := collectRound(ctx, e.c, feed, nil)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range recs {
		all = append(all, r.ID)
	}
	if len(all) != n {
		t.Errorf("the mailbox holds %d contacts, want %d: a retried create made a duplicate", len(all), n)
	}
	keys := map[string]int{}
	for i := 0; i < len(all); i += 100 {
		res, err := e.c.Fetch(ctx, alice, "contact", all[i:min(i+100, len(all))])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("Fetch %s: %v", r.ID, r.Err)
			}
			keys[r.Record.CorrelationKey]++
		}
	}
	for key := range ids {
		if keys[key] != 1 {
			t.Errorf("syncgate id %s is on %d contacts, want 1", key, keys[key])
		}
	}
	c := e.emu.Counters()
	if c.Throttled == 0 {
		t.Error("the emulator throttled nothing: the test tests nothing")
	}
	if m := c.MaxConcurrent[alice]; m > maxConcurrency || m == 0 {
		t.Errorf("%d requests were in flight for the mailbox at once, Graph allows %d", m, maxConcurrency)
	}
	t.Logf("%d requests throttled, at most %d in flight", c.Throttled, c.MaxConcurrent[alice])
}

// collectRound reads one whole round of a feed from cursor.
func collectRound(ctx context.Context, c *Connector, feed sdk.Feed, cursor sdk.Cursor) ([]sdk.ChangeRecord, sdk.Cursor, error) {
	req := sdk.SyncDataRequest{Feed: feed, Cursor: cursor, Max: 250}
	var recs []sdk.ChangeRecord
	for {
		page, err := c.GetSyncData(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, page.Records...)
		if len(page.NextPageToken) == 0 {
			return recs, page.Cursor, nil
		}
		req.PageToken = page.NextPageToken
	}
}

// TestConformanceAsPlugin runs the suite against the built connector as a
// real plugin process under the gateway's supervisor (checksum-pinned,
// Describe checked against the manifest file, every call over gRPC), with
// the emulator as its Graph.
func TestConformanceAsPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the connector")
	}
	pluginDir, lockPath := testplugins.Build(t, "exchange")
	lf, diags := host.ReadLockFile(lockPath)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() || len(plugins) != 1 {
		t.Fatal(diags, plugins)
	}
	p := plugins[0]
	if err := lf.Verify(p); err != nil {
		t.Fatal(err)
	}
	e := newEmulated(t, graphemu.Options{}, nil)
	sup := host.NewSupervisor(host.SupervisorConfig{
		Launch: host.LaunchConfig{Plugin: p, Endpoint: "exchange", Lock: lf.Connectors[p.Name], LockFile: lockPath,
			Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})},
		Settings: sdk.Fields{
			"tenant_id": sdk.String(testTenant), "client_id": sdk.String(graphemu.DefaultClientID),
			"client_secret": sdk.String(graphemu.DefaultClientSecret),
			"authority_url": sdk.String(e.srv.URL), "graph_url": sdk.String(e.srv.URL + "/v1.0"),
		},
		KV:          host.NewMemKV(),
		CallTimeout: 20 * time.Second,
	})
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Stop)
	src, err := os.ReadFile(filepath.Join(p.Dir, "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	sdktest.Run(t, sup, &emuBackend{t: t, e: e, manifest: src})
}
