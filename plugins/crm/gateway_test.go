package crm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/engine"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// gateway is the sync engine between a folder of mailboxes (the example
// directory connector) and the emulated org, with bindings for alice and
// bob.
type gateway struct {
	t    *testing.T
	org  *org
	mail *dirconnector.Store
	eng  *engine.Engine
}

const bob = "bob@contoso.com"

func newGateway(t *testing.T) *gateway {
	t.Helper()
	o := newOrg(t, dataverseemu.Options{Users: []string{alice, bob}})
	dir := t.TempDir()
	src := fmt.Sprintf(`
endpoint "dir-mailbox" "mail" {
  dir = "mail"
}
endpoint "crm" "crm" {
  url           = "%[1]s/api/data/v9.2"
  authority_url = "%[1]s"
  tenant_id     = "contoso.onmicrosoft.com"
  client_id     = "syncgate-emulator"
  client_secret = "syncgate-emulator-secret"
}
binding "alice" {
  mailbox  = %[2]q
  crm_user = %[2]q
}
binding "bob" {
  mailbox  = %[3]q
  crm_user = %[3]q
}
policy "contact" {
  tracking { mode = "all" }
}
policy "appointment" {
  tracking { mode = "all" }
}
`, o.srv.URL, alice, bob)
	path := filepath.Join(dir, "syncgate.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	manifests := map[string]*manifest.Manifest{}
	for name, pkg := range map[string]string{"dir-mailbox": testplugins.Connectors["dir-mailbox"], "crm": "plugins/crm/cmd/crm"} {
		b, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), pkg, manifest.FileName))
		if err != nil {
			t.Fatal(err)
		}
		m, diags := manifest.Parse(name, b)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		manifests[name] = m
	}
	if diags := cfg.Resolve(manifests); diags.HasErrors() {
		t.Fatal(diags)
	}
	mailSrc, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), testplugins.Connectors["dir-mailbox"], manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	mailConn := dirconnector.New(mailSrc)
	if ds := mailConn.Configure(t.Context(), sdk.Env{}, sdk.Fields{"dir": sdk.String(filepath.Join(dir, "mail"))}); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	mail, err := dirconnector.Open(filepath.Join(dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "data"), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng, err := engine.New(t.Context(), engine.Options{Config: cfg, DB: db, PageSize: 50,
		Conns:  map[string]engine.Conn{"mail": mailConn, "crm": o.c},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})})
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{t: t, org: o, mail: mail, eng: eng}
}

func (g *gateway) sync() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := g.eng.SyncOnce(ctx); err != nil {
		g.t.Fatalf("sync: %v", err)
	}
}

func (g *gateway) items(scope, entity string) []dirconnector.Item {
	g.t.Helper()
	items, err := g.mail.List(scope, entity)
	if err != nil {
		g.t.Fatal(err)
	}
	return items
}

// TestThroughTheGateway runs the engine against the connector: a CRM
// contact reaches its owner's mailbox alone and an edit there comes back;
// an owner change moves it to the new owner's mailbox; a meeting made in a
// mailbox becomes one CRM appointment that also reaches the attendee's
// mailbox, routed by its party.
func TestThroughTheGateway(t *testing.T) {
	g := newGateway(t)
	b := &backend{t: t, org: g.org, user: g.org.emu.UserID(alice)}
	id, err := b.CreateOutOfBand(t.Context(), "contact", b.Sample("contact", 1))
	if err != nil {
		t.Fatal(err)
	}
	g.sync()
	got := g.items(alice, "contact")
	if len(got) != 1 || got[0].Fields["given_name"].Str() != "Ada1" || len(g.items(bob, "contact")) != 0 {
		t.Fatalf("after the CRM create: alice has %+v, bob %d contacts; want Ada1 in alice's mailbox alone", got, len(g.items(bob, "contact")))
	}

	f := got[0].Fields.Clone()
	f["job_title"] = sdk.String("Countess")
	if _, err := g.mail.Update(alice, "contact", got[0].ID, got[0].Version, f); err != nil {
		t.Fatal(err)
	}
	g.sync()
	res, err := g.org.c.Fetch(t.Context(), alice, "contact", []string{id})
	if err != nil || res[0].Err != nil || res[0].Record.Fields["job_title"].Str() != "Countess" {
		t.Fatalf("after the mailbox edit the CRM contact is %+v (%v)", res[0], err)
	}

	bobID := g.org.emu.UserID(bob)
	if err := b.call(t.Context(), "PATCH", "contacts("+id+")", map[string]any{"ownerid@odata.bind": "/systemusers(" + bobID + ")"}, nil); err != nil {
		t.Fatal(err)
	}
	g.sync()
	if got := g.items(bob, "contact"); len(got) != 1 || got[0].Fields["job_title"].Str() != "Countess" {
		t.Fatalf("after the owner change bob has %+v", got)
	}
	// For alice the contact left her scope: untracked, not deleted.
	if got := g.items(alice, "contact"); len(got) != 1 {
		t.Fatalf("after the owner change alice has %d contacts, want her copy kept (a scope exit is no delete)", len(got))
	}
	if err := b.call(t.Context(), "PATCH", "contacts("+id+")", map[string]any{"jobtitle": "Duchess"}, nil); err != nil {
		t.Fatal(err)
	}
	g.sync()
	if a, bb := g.items(alice, "contact"), g.items(bob, "contact"); a[0].Fields["job_title"].Str() != "Countess" || bb[0].Fields["job_title"].Str() != "Duchess" {
		t.Fatalf("a later CRM edit reached alice (%v) or missed bob (%v): her copy is no longer synced", a[0].Fields["job_title"], bb[0].Fields["job_title"])
	}

	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	if _, err := g.mail.Create(alice, "appointment", "", sdk.Fields{
		"subject": sdk.String("planning"), "start": sdk.Time(start), "end": sdk.Time(start.Add(time.Hour)),
		"organizer": sdk.String(alice), "ical_uid": sdk.String("uid-planning"),
		"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(bob), "role": sdk.String("required"), "response": sdk.String("none")})),
	}); err != nil {
		t.Fatal(err)
	}
	g.sync()
	g.sync() // the CRM's change record of the new appointment reaches bob
	recs, _, err := drain(t, g.org.c, "appointment", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("the CRM has %d appointments, want 1: %+v", len(recs), recs)
	}
	if got := g.items(bob, "appointment"); len(got) != 1 || got[0].Fields["subject"].Str() != "planning" {
		t.Errorf("bob's mailbox has %+v; want the meeting he attends", got)
	}

	// A service appointment alice schedules with bob as its resource goes
	// to both calendars, and never back.
	sa, err := g.org.c.Apply(t.Context(), alice, "service_appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "svc", Fields: sdk.Fields{
		"subject": sdk.String("install"), "start": sdk.Time(start.Add(24 * time.Hour)), "end": sdk.Time(start.Add(26 * time.Hour)),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(bob), "role": sdk.String("resource"), "response": sdk.String("none")})),
	}}})
	if err != nil || sa[0].Err != nil {
		t.Fatal(err, sa[0].Err)
	}
	g.sync()
	for _, who := range []string{alice, bob} {
		if got := g.items(who, "service_appointment"); len(got) != 1 || got[0].Fields["subject"].Str() != "install" {
			t.Fatalf("%s's calendar has %+v; want the service appointment", who, got)
		}
	}
	copyOf := g.items(bob, "service_appointment")[0]
	edited := copyOf.Fields.Clone()
	edited["subject"] = sdk.String("install (moved by bob)")
	if _, err := g.mail.Update(bob, "service_appointment", copyOf.ID, copyOf.Version, edited); err != nil {
		t.Fatal(err)
	}
	g.sync()
	back, err := g.org.c.Fetch(t.Context(), alice, "service_appointment", []string{sa[0].ID})
	if err != nil || back[0].Err != nil || back[0].Record.Fields["subject"].Str() != "install" {
		t.Errorf("after bob edited his copy the CRM has %+v (%v); a service appointment flows from the CRM only", back[0], err)
	}
}
