package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/internal/winzones"
)

// seedSizes is how much demo data each user gets. Contacts, appointments
// and tasks are split between the mailbox and the CRM (half each), so the
// initial sync has work in both directions; service appointments exist in
// the CRM only.
type seedSizes struct {
	Contacts            int
	Appointments        int
	Tasks               int
	ServiceAppointments int
}

// perUser is how many items the seed makes for each user, both sides.
func (s seedSizes) perUser() int {
	return s.Contacts + s.Appointments + s.Tasks + s.ServiceAppointments
}

// seedCounts is what the seed made, by side.
type seedCounts struct {
	mu                                       sync.Mutex
	MailContacts, MailEvents, MailTasks      int
	CRMContacts, CRMAppointments, CRMTasks   int
	CRMSeries, MailSeries, Meetings, Service int
}

func (c *seedCounts) add(fn func(c *seedCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c)
}

func (c *seedCounts) String() string {
	return fmt.Sprintf("mailboxes: %d contacts, %d events (%d series), %d tasks; CRM: %d contacts, %d appointments (%d series), %d tasks, %d service appointments; %d meetings between demo users",
		c.MailContacts, c.MailEvents, c.MailSeries, c.MailTasks, c.CRMContacts, c.CRMAppointments, c.CRMSeries, c.CRMTasks, c.Service, c.Meetings)
}

// The tracking category of the quick start's appointment policy: mailbox
// events carrying it enter the CRM, the others stay private.
const trackedCategory = "Tracked to CRM"

// seedZone is the Windows zone the mailbox events are written in.
const seedZone = "W. Europe Standard Time"

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Dennis",
		"Margaret", "Ken", "Radia", "Tim", "Hedy", "Claude", "Sophie", "Niklaus", "Karen", "Linus"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson", "Ritchie",
		"Hamilton", "Thompson", "Perlman", "Berners-Lee", "Lamarr", "Shannon", "Wilson", "Wirth", "Jones", "Torvalds"}
	companies = []string{"Contoso", "Fabrikam", "Northwind Traders", "Tailspin Toys", "Woodgrove Bank", "Adventure Works"}
	titles    = []string{"Buyer", "Engineer", "Account Manager", "Director", "Analyst", "Consultant"}
	subjects  = []string{"Project review", "Pricing call", "Site visit", "Quarterly planning", "Demo", "Contract talk", "Lunch", "Workshop"}
)

// person is the i-th demo contact: names cycle through the lists above and
// the address is unique per user and side, so no two seeded contacts are
// taken for the same person by their e-mail address.
func person(i int, side, owner string) (first, last, email string) {
	first, last = firstNames[i%len(firstNames)], lastNames[(i/len(firstNames)+i)%len(lastNames)]
	local, _, _ := strings.Cut(owner, "@")
	email = fmt.Sprintf("%s.%s.%d@%s-%s.example", strings.ToLower(first), strings.ToLower(strings.ReplaceAll(last, "-", "")), i, side, local)
	return first, last, email
}

// slot is the start of the i-th seeded appointment: working hours on the
// next 60 days, inside the Exchange connector's calendar window.
func slot(today time.Time, i int) time.Time {
	return today.AddDate(0, 0, 1+i%60).Add(time.Duration(8+i%9) * time.Hour)
}

// seed creates the demo data through both emulators' public APIs, every
// user and side in parallel.
func seed(ctx context.Context, s *setup, sizes seedSizes) (*seedCounts, error) {
	graph := newAPI(ctx, s.Graph, nil)
	crm := newAPI(ctx, s.CRM, http.Header{"OData-MaxVersion": {"4.0"}, "OData-Version": {"4.0"}})
	ids, err := systemUsers(ctx, crm, s.Users)
	if err != nil {
		return nil, err
	}
	counts := &seedCounts{}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	err = parallel(ctx, 2*len(s.Users), 2*len(s.Users), func(ctx context.Context, i int) error {
		u, next := s.Users[i/2], s.Users[(i/2+1)%len(s.Users)] // each user meets the next one
		if i%2 == 0 {
			return seedMailbox(ctx, graph, u, next, sizes, today, counts)
		}
		return seedCRM(ctx, crm, ids, u, next, sizes, today, counts)
	})
	return counts, err
}

// systemUsers maps each demo user's CRM address to its systemuserid.
func systemUsers(ctx context.Context, crm *api, users []user) (map[string]string, error) {
	var page struct {
		Value []struct {
			ID    string `json:"systemuserid"`
			Email string `json:"internalemailaddress"`
		} `json:"value"`
	}
	if _, err := crm.do(ctx, http.MethodGet, "/systemusers?$select=systemuserid,internalemailaddress", nil, &page); err != nil {
		return nil, fmt.Errorf("read the CRM's users: %w", err)
	}
	ids := map[string]string{}
	for _, v := range page.Value {
		ids[strings.ToLower(v.Email)] = v.ID
	}
	for _, u := range users {
		if ids[strings.ToLower(u.CRMUser)] == "" {
			return nil, fmt.Errorf("the CRM emulator has no user %s (binding %q)", u.CRMUser, u.Binding)
		}
	}
	return ids, nil
}

// parallel runs fn(0..n-1) with at most width calls in flight (Graph
// serves 4 requests at a time per mailbox) and returns the first error;
// after one, the calls not yet started are skipped.
func parallel(ctx context.Context, n, width int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	slots := make(chan struct{}, width)
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

func seedMailbox(ctx context.Context, graph *api, u, next user, sizes seedSizes, today time.Time, counts *seedCounts) error {
	mb := "/users/" + url.PathEscape(u.Mailbox)
	var lists struct {
		Value []struct {
			ID        string `json:"id"`
			Wellknown string `json:"wellknownListName"`
		} `json:"value"`
	}
	if _, err := graph.do(ctx, http.MethodGet, mb+"/todo/lists", nil, &lists); err != nil {
		return fmt.Errorf("mailbox %s: %w", u.Mailbox, err)
	}
	listID := ""
	for _, l := range lists.Value {
		if l.Wellknown == "defaultList" {
			listID = l.ID
		}
	}
	if listID == "" {
		return fmt.Errorf("mailbox %s has no default To Do list", u.Mailbox)
	}
	contacts, events, tasks := sizes.Contacts/2, sizes.Appointments/2, sizes.Tasks/2
	return parallel(ctx, contacts+events+tasks, 4, func(ctx context.Context, i int) error {
		var err error
		switch {
		case i < contacts:
			first, last, email := person(i, "mail", u.Mailbox)
			_, err = graph.do(ctx, http.MethodPost, mb+"/contacts", map[string]any{
				"givenName": first, "surname": last, "companyName": companies[i%len(companies)],
				"emailAddresses": []any{map[string]any{"address": email, "name": first + " " + last}},
				"businessPhones": []any{fmt.Sprintf("+44 20 7946 %04d", i)},
			}, nil)
			counts.add(func(c *seedCounts) { c.MailContacts++ })
		case i < contacts+events:
			err = graph.post(ctx, mb+"/events", mailEvent(i-contacts, today, next), counts)
		default:
			j := i - contacts - events
			_, err = graph.do(ctx, http.MethodPost, mb+"/todo/lists/"+url.PathEscape(listID)+"/tasks", map[string]any{
				"title":       fmt.Sprintf("Follow up with %s", firstNames[j%len(firstNames)]),
				"dueDateTime": map[string]any{"dateTime": today.AddDate(0, 0, 2+j).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			}, nil)
			counts.add(func(c *seedCounts) { c.MailTasks++ })
		}
		if err != nil {
			return fmt.Errorf("seed mailbox %s: %w", u.Mailbox, err)
		}
		return nil
	})
}

// post creates a mailbox event and counts it.
func (a *api) post(ctx context.Context, path string, ev map[string]any, counts *seedCounts) error {
	if _, err := a.do(ctx, http.MethodPost, path, ev, nil); err != nil {
		return err
	}
	counts.add(func(c *seedCounts) {
		c.MailEvents++
		if ev["recurrence"] != nil {
			c.MailSeries++
		}
		if ev["attendees"] != nil {
			c.Meetings++
		}
	})
	return nil
}

// mailEvent is the i-th mailbox event: every tenth a weekly series, every
// fifth (otherwise) a meeting with the next demo user, and every other one
// tagged for the CRM.
func mailEvent(i int, today time.Time, next user) map[string]any {
	loc := zoneOf(seedZone)
	start := slot(today, i)
	wall := time.Date(start.Year(), start.Month(), start.Day(), start.Hour(), 0, 0, 0, loc)
	at := func(t time.Time) map[string]any {
		return map[string]any{"dateTime": t.Format("2006-01-02T15:04:05"), "timeZone": seedZone}
	}
	ev := map[string]any{
		"subject":  subjects[i%len(subjects)] + fmt.Sprintf(" #%d", i),
		"start":    at(wall),
		"end":      at(wall.Add(time.Hour)),
		"location": map[string]any{"displayName": fmt.Sprintf("Room %d", 1+i%5)},
		"body":     map[string]any{"contentType": "text", "content": "Agenda to follow."},
	}
	if i%2 == 0 {
		ev["categories"] = []any{trackedCategory}
	}
	switch {
	case i%10 == 0:
		ev["subject"] = fmt.Sprintf("Weekly check-in #%d", i)
		ev["recurrence"] = map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []any{strings.ToLower(wall.Weekday().String())}},
			"range":   map[string]any{"type": "numbered", "startDate": wall.Format(time.DateOnly), "numberOfOccurrences": 8, "recurrenceTimeZone": seedZone},
		}
	case i%5 == 0:
		ev["subject"] = fmt.Sprintf("Meeting with %s #%d", next.Binding, i)
		ev["categories"] = []any{trackedCategory}
		ev["attendees"] = []any{map[string]any{"emailAddress": map[string]any{"address": next.Mailbox, "name": next.Binding}, "type": "required"}}
	}
	return ev
}

// zoneOf loads the IANA zone of a Windows zone name (UTC if this machine
// has no zone database).
func zoneOf(windows string) *time.Location {
	name, _ := winzones.IANA(windows)
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}

func seedCRM(ctx context.Context, crm *api, ids map[string]string, u, next user, sizes seedSizes, today time.Time, counts *seedCounts) error {
	me, other := ids[strings.ToLower(u.CRMUser)], ids[strings.ToLower(next.CRMUser)]
	owner := "/systemusers(" + me + ")"
	party := func(mask int, id string) map[string]any {
		return map[string]any{"participationtypemask": mask, "partyid_systemuser@odata.bind": "/systemusers(" + id + ")"}
	}
	at := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	contacts, appts, tasks := sizes.Contacts-sizes.Contacts/2, sizes.Appointments-sizes.Appointments/2, sizes.Tasks-sizes.Tasks/2
	return parallel(ctx, contacts+appts+tasks+sizes.ServiceAppointments, 8, func(ctx context.Context, i int) error {
		var (
			set  string
			body map[string]any
			note func(c *seedCounts)
		)
		switch {
		case i < contacts:
			first, last, email := person(i, "crm", u.CRMUser)
			set, body = "contacts", map[string]any{
				"firstname": first, "lastname": last, "emailaddress1": email,
				"jobtitle": titles[i%len(titles)], "telephone1": fmt.Sprintf("+1 555 %04d", i), "address1_city": "Seattle",
				"ownerid@odata.bind": owner,
			}
			note = func(c *seedCounts) { c.CRMContacts++ }
		case i < contacts+appts:
			j := i - contacts
			start := slot(today, j+3)
			switch {
			case j%10 == 0:
				set, body = "recurringappointmentmasters", map[string]any{
					"subject": fmt.Sprintf("Account review #%d", j), "location": "Online",
					"recurrencepatterntype": 1, "interval": 1, "daysofweekmask": 1 << int(start.Weekday()),
					"patternstartdate": at(start.Truncate(24 * time.Hour)), "patternendtype": 2, "occurrences": 8,
					"starttime": at(start), "endtime": at(start.Add(30 * time.Minute)), "duration": 30,
					"ownerid@odata.bind":                          owner,
					"recurringappointmentmaster_activity_parties": []any{party(7, me)},
				}
				note = func(c *seedCounts) { c.CRMAppointments++; c.CRMSeries++ }
			default:
				parties := []any{party(7, me)}
				subject := subjects[j%len(subjects)] + fmt.Sprintf(" (CRM) #%d", j)
				meeting := j%5 == 0
				if meeting {
					parties = append(parties, party(5, other))
					subject = fmt.Sprintf("Customer call with %s #%d", next.Binding, j)
				}
				set, body = "appointments", map[string]any{
					"subject": subject, "location": fmt.Sprintf("Room %d", 1+j%5),
					"scheduledstart": at(start), "scheduledend": at(start.Add(time.Hour)),
					"description":                  "Notes kept in the CRM.",
					"ownerid@odata.bind":           owner,
					"appointment_activity_parties": parties,
				}
				note = func(c *seedCounts) {
					c.CRMAppointments++
					if meeting {
						c.Meetings++
					}
				}
			}
		case i < contacts+appts+tasks:
			j := i - contacts - appts
			set, body = "tasks", map[string]any{
				"subject": fmt.Sprintf("Send the quote to %s", firstNames[(j+7)%len(firstNames)]), "scheduledend": at(today.AddDate(0, 0, 3+j).Add(17 * time.Hour)),
				"prioritycode": j % 3, "ownerid@odata.bind": owner,
			}
			note = func(c *seedCounts) { c.CRMTasks++ }
		default:
			j := i - contacts - appts - tasks
			start := slot(today, j*7+5)
			// Two users as resources: the copy lands in both calendars.
			set, body = "serviceappointments", map[string]any{
				"subject": fmt.Sprintf("On-site service #%d for %s", j, u.Binding), "location": "Customer site",
				"scheduledstart": at(start), "scheduledend": at(start.Add(2 * time.Hour)),
				"ownerid@odata.bind":                  owner,
				"serviceappointment_activity_parties": []any{party(10, me), party(10, other)},
			}
			note = func(c *seedCounts) { c.Service++ }
		}
		if _, err := crm.do(ctx, http.MethodPost, "/"+set, body, nil); err != nil {
			return fmt.Errorf("seed the CRM for %s: %w", u.CRMUser, err)
		}
		counts.add(note)
		return nil
	})
}
