package crm_test

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
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/plugins/crm"
	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

const alice = "alice@contoso.com"

// org is an emulated Dataverse org and a connector configured against it.
type org struct {
	emu *dataverseemu.Emulator
	srv *httptest.Server
	c   *crm.Connector
}

func newOrg(t *testing.T, opts dataverseemu.Options) *org {
	t.Helper()
	if opts.Users == nil {
		opts.Users = []string{alice}
	}
	emu := dataverseemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c := crm.New(readManifest(t))
	if ds := c.Configure(t.Context(), sdk.Env{Endpoint: "crm"}, orgConfig(srv.URL)); ds.HasErrors() {
		t.Fatalf("Configure: %v", ds.Err())
	}
	return &org{emu: emu, srv: srv, c: c}
}

func orgConfig(base string) sdk.Fields {
	return sdk.Fields{
		"url":           sdk.String(base + "/api/data/v9.2"),
		"authority_url": sdk.String(base),
		"tenant_id":     sdk.String("contoso.onmicrosoft.com"),
		"client_id":     sdk.String("syncgate-emulator"),
		"client_secret": sdk.String("syncgate-emulator-secret"),
	}
}

func readManifest(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("cmd", "crm", "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformance runs the SDK's conformance suite for every entity against
// the Dataverse emulator, with out-of-band changes made through its Web API
// as alice would make them.
func TestConformance(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	sdktest.Run(t, o.c, &backend{t: t, org: o, manifest: readManifest(t), user: o.emu.UserID(alice)})
}

// backend makes changes through the emulator's Web API as a user: its own
// token, its own columns, impersonating the user.
type backend struct {
	t        *testing.T
	org      *org
	manifest []byte
	user     string

	mu    sync.Mutex
	token string
}

func (b *backend) Manifest() []byte                    { return b.manifest }
func (b *backend) Scope() string                       { return alice }
func (b *backend) FeedFor(entity string) sdk.Feed      { return sdk.Feed{Name: entity} }
func (b *backend) ExpireCursors(context.Context) error { b.org.emu.ExpireTokens(); return nil }
func (b *backend) Entities() []string {
	return []string{"contact", "appointment", "task", "service_appointment"}
}

// Sample returns fields each entity keeps whole in the emulated org (times
// in UTC: it has no zone code column).
func (b *backend) Sample(entity string, i int) sdk.Fields {
	n := fmt.Sprint(i)
	start := time.Date(2030, time.March, 1+i%28, 9, 0, 0, 0, time.UTC)
	party := func(addr, role string) sdk.Value {
		return sdk.Map(map[string]sdk.Value{"address": sdk.String(addr), "role": sdk.String(role), "response": sdk.String("none")})
	}
	switch entity {
	case "contact":
		return sdk.Fields{
			"given_name": sdk.String("Ada" + n), "surname": sdk.String("Lovelace"), "display_name": sdk.String("Ada" + n + " Lovelace"),
			"job_title": sdk.String("Engineer " + n),
			"emails":    sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("ada" + n + "@example.com"), "kind": sdk.String("work")})),
			"phones":    sdk.List(sdk.Map(map[string]sdk.Value{"number": sdk.String("+44 20 7946 000" + n), "kind": sdk.String("business")})),
			"birthday":  sdk.String("1815-12-10"),
		}
	case "appointment", "service_appointment":
		f := sdk.Fields{
			"subject": sdk.String("meeting " + n), "body": sdk.String("Agenda " + n), "body_type": sdk.String("text"),
			"start": sdk.TimeIn(start, ""), "end": sdk.TimeIn(start.Add(time.Hour), ""), "all_day": sdk.Bool(false),
			"location": sdk.String("Room " + n), "importance": sdk.String("normal"),
		}
		if entity == "appointment" {
			f["organizer"] = sdk.String("organizer@example.com")
			f["attendees"] = sdk.List(party("guest"+n+"@example.com", "required"))
			f["categories"] = sdk.Strings("sdktest")
			f["show_as"] = sdk.String("busy")
		} else {
			f["resources"] = sdk.List(party("technician"+n+"@example.com", "resource"))
			f["customers"] = sdk.List(party("customer"+n+"@example.com", "required"))
		}
		return f
	case "task":
		return sdk.Fields{
			"subject": sdk.String("task " + n), "body": sdk.String("Steps " + n), "body_type": sdk.String("text"),
			"due": sdk.TimeIn(start, ""), "status": sdk.String("not_started"), "percent_complete": sdk.Int(0),
			"importance": sdk.String("high"),
		}
	}
	return nil
}

func (b *backend) Change(entity string, f sdk.Fields) sdk.Fields {
	c := f.Clone()
	if entity == "contact" {
		c["job_title"] = sdk.String(f["job_title"].Str() + " (changed)")
		return c
	}
	c["subject"] = sdk.String(f["subject"].Str() + " (changed)")
	return c
}

var sets = map[string]string{"contact": "contacts", "appointment": "appointments", "task": "tasks", "service_appointment": "serviceappointments"}

// columns is the backend's own translation of its samples to Dataverse
// columns, written apart from the connector's.
func columns(entity string, f sdk.Fields, create bool) map[string]any {
	out := map[string]any{}
	str := func(col, field string) {
		if v, ok := f[field]; ok {
			out[col] = v.Str()
		} else if !create {
			out[col] = nil
		}
	}
	when := func(col, field string) {
		if v, ok := f[field]; ok {
			out[col] = v.TimeVal().UTC().Format(time.RFC3339)
		}
	}
	parties := func(nav string, fields map[string]int) {
		var ps []map[string]any
		for field, mask := range fields {
			v := f[field]
			if v.Kind() == sdk.KindString {
				ps = append(ps, map[string]any{"participationtypemask": mask, "addressused": v.Str()})
			}
			for _, a := range v.ListVal() {
				ps = append(ps, map[string]any{"participationtypemask": mask, "addressused": a.MapVal()["address"].Str()})
			}
		}
		if create {
			out[nav] = ps
		}
	}
	switch entity {
	case "contact":
		str("firstname", "given_name")
		str("lastname", "surname")
		str("jobtitle", "job_title")
		out["emailaddress1"] = f["emails"].ListVal()[0].MapVal()["address"].Str()
		out["telephone1"] = f["phones"].ListVal()[0].MapVal()["number"].Str()
		out["birthdate"] = f["birthday"].Str()
	case "appointment", "service_appointment":
		str("subject", "subject")
		str("description", "body")
		str("location", "location")
		when("scheduledstart", "start")
		when("scheduledend", "end")
		out["isalldayevent"] = f["all_day"].BoolVal()
		out["prioritycode"] = 1
		if entity == "appointment" {
			out["category"] = "sdktest"
			out["statecode"], out["statuscode"] = 3, 5 // scheduled, busy
			parties("appointment_activity_parties", map[string]int{"organizer": 7, "attendees": 5})
		} else {
			parties("serviceappointment_activity_parties", map[string]int{"resources": 10, "customers": 11})
		}
	case "task":
		str("subject", "subject")
		str("description", "body")
		when("scheduledend", "due")
		out["percentcomplete"] = 0
		out["prioritycode"] = 2
		out["statecode"], out["statuscode"] = 0, 2
	}
	return out
}

func (b *backend) CreateOutOfBand(ctx context.Context, entity string, f sdk.Fields) (string, error) {
	var created map[string]any
	if err := b.call(ctx, http.MethodPost, sets[entity]+"?$select="+key(entity), columns(entity, f, true), &created); err != nil {
		return "", err
	}
	id, _ := created[key(entity)].(string)
	return id, nil
}

func (b *backend) UpdateOutOfBand(ctx context.Context, entity, id string, f sdk.Fields) error {
	return b.call(ctx, http.MethodPatch, sets[entity]+"("+id+")", columns(entity, f, false), nil)
}

func (b *backend) DeleteOutOfBand(ctx context.Context, entity, id string) error {
	return b.call(ctx, http.MethodDelete, sets[entity]+"("+strings.TrimPrefix(id, "series:")+")", nil, nil)
}

func key(entity string) string {
	if entity == "contact" {
		return "contactid"
	}
	return "activityid"
}

// call sends one Web API request as the backend's user.
func (b *backend) call(ctx context.Context, method, path string, body, out any) error {
	tok, err := b.accessToken(ctx)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.org.srv.URL+"/api/data/v9.2/"+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("MSCRMCallerID", b.user)
	req.Header.Set("Prefer", "return=representation")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (b *backend) accessToken(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token != "" {
		return b.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"syncgate-emulator"},
		"client_secret": {"syncgate-emulator-secret"}, "scope": {b.org.srv.URL + "/.default"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.org.srv.URL+"/t/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token: %d %v", resp.StatusCode, err)
	}
	b.token = tok.AccessToken
	return b.token, nil
}
