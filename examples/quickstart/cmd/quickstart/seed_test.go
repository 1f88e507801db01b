package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/plugins/exchange/graphemu"
)

var demoUsers = []user{
	{"alice", "alice@contoso.example", "alice@contoso.example"},
	{"bob", "bob@contoso.example", "bob@contoso.example"},
	{"carol", "carol@contoso.example", "carol@contoso.example"},
}

// emulated serves both emulators in process and returns a setup for them.
func emulated(t *testing.T) *setup {
	t.Helper()
	var upns []string
	for _, u := range demoUsers {
		upns = append(upns, u.Mailbox)
	}
	g := graphemu.New(graphemu.Options{Users: upns})
	t.Cleanup(g.Close)
	gs := httptest.NewServer(g)
	t.Cleanup(gs.Close)
	ds := httptest.NewServer(dataverseemu.New(dataverseemu.Options{Users: upns}))
	t.Cleanup(ds.Close)
	cred := backend{TenantID: "contoso", ClientID: "syncgate-emulator", ClientSecret: "syncgate-emulator-secret"}
	gb, cb := cred, cred
	gb.APIURL, gb.TokenURL, gb.Scope = gs.URL+"/v1.0", gs.URL+"/contoso/oauth2/v2.0/token", "https://graph.microsoft.com/.default"
	cb.APIURL, cb.TokenURL, cb.Scope = ds.URL+"/api/data/v9.2", ds.URL+"/contoso/oauth2/v2.0/token", ds.URL+"/.default"
	return &setup{Graph: gb, CRM: cb, Users: demoUsers}
}

func TestSeedFillsBothSides(t *testing.T) {
	s := emulated(t)
	ctx := context.Background()
	counts, err := seed(ctx, s, seedSizes{Contacts: 8, Appointments: 22, Tasks: 4, ServiceAppointments: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Per user: 4+4 contacts, 11+11 appointments (the 0th and 10th a
	// series, the 5th a meeting), 2+2 tasks, 2 service appointments.
	want := seedCounts{MailContacts: 12, MailEvents: 33, MailSeries: 6, MailTasks: 6,
		CRMContacts: 12, CRMAppointments: 33, CRMSeries: 6, CRMTasks: 6, Service: 6, Meetings: 6}
	if counts.String() != want.String() {
		t.Errorf("seeded %s\nwant   %s", counts, &want)
	}

	graph := newAPI(ctx, s.Graph, nil)
	crm := newAPI(ctx, s.CRM, nil)
	var list struct {
		Value []map[string]any `json:"value"`
	}
	if _, err := graph.do(ctx, http.MethodGet, "/users/bob@contoso.example/events?$top=100", nil, &list); err != nil {
		t.Fatal(err)
	}
	fromAlice, tracked := 0, 0
	for _, ev := range list.Value {
		if strings.HasPrefix(ev["subject"].(string), "Meeting with bob") {
			fromAlice++ // alice's meeting, in bob's calendar as an invitation
		}
		if cats, _ := ev["categories"].([]any); len(cats) == 1 && cats[0] == trackedCategory {
			tracked++
		}
	}
	if fromAlice != 1 || len(list.Value) != 11+1+0 || tracked == 0 {
		t.Errorf("bob's calendar: %d events, %d from alice, %d tracked; want 12, 1, some", len(list.Value), fromAlice, tracked)
	}
	if _, err := crm.do(ctx, http.MethodGet, "/serviceappointments?$select=subject&$expand=serviceappointment_activity_parties($select=participationtypemask,_partyid_value)", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Value) != 6 {
		t.Fatalf("%d service appointments, want 6", len(list.Value))
	}
	for _, sa := range list.Value {
		parties, _ := sa["serviceappointment_activity_parties"].([]any)
		resources := map[any]bool{}
		for _, p := range parties {
			if p := p.(map[string]any); p["participationtypemask"] == float64(10) {
				resources[p["_partyid_value"]] = true
			}
		}
		if len(resources) != 2 {
			t.Errorf("%v has %d resources, want two users", sa["subject"], len(resources))
		}
	}
	if _, err := crm.do(ctx, http.MethodGet, "/contacts?$select=emailaddress1,_ownerid_value", nil, &list); err != nil {
		t.Fatal(err)
	}
	owners := map[any]int{}
	for _, c := range list.Value {
		owners[c["_ownerid_value"]]++
	}
	if len(list.Value) != 12 || len(owners) != 3 {
		t.Errorf("%d CRM contacts over %d owners, want 12 over 3", len(list.Value), len(owners))
	}
}

func TestSeedReportsRefusedCredentials(t *testing.T) {
	s := emulated(t)
	s.CRM.ClientSecret = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := seed(ctx, s, seedSizes{Contacts: 2})
	if err == nil || !strings.Contains(err.Error(), "read the CRM's users") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("got %v, want the token endpoint's refusal", err)
	}
}

func TestSeedReportsAnUnknownUser(t *testing.T) {
	s := emulated(t)
	s.Users = append(s.Users, user{"dave", "dave@contoso.example", "dave@contoso.example"})
	_, err := seed(context.Background(), s, seedSizes{Contacts: 2})
	if err == nil || !strings.Contains(err.Error(), `no user dave@contoso.example (binding "dave")`) {
		t.Fatalf("got %v", err)
	}
}
