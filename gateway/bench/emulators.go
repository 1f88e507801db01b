package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The emulators' default credentials, which the bench does not change.
const (
	emuClientID     = "syncgate-emulator"
	emuClientSecret = "syncgate-emulator-secret"
	emuTenant       = "syncgate-emulator"
)

// backends are one graph-emulator and one dataverse-emulator process
// with the same users, and clients for both.
type backends struct {
	graphProc, crmProc *proc
	graphURL           string // .../v1.0
	graphRoot          string // scheme://host:port
	graphControl       string
	crmURL             string // .../api/data/v9.2
	crmRoot            string
	crmControl         string
	graph, crm         *api
	users              []string          // mailbox addresses, the same in both
	userIDs            map[string]string // address -> systemuserid
	owners             map[string]string // systemuserid -> address
}

// startBackends starts both emulators with users and waits until they
// have printed their addresses.
func startBackends(opts *Options, users []string, dir string) (*backends, error) {
	list := strings.Join(users, ",")
	// A single argument may not exceed 128 KiB (MAX_ARG_STRLEN): the
	// emulators take their users as one comma list, so the bench keeps
	// addresses short.
	if len(list) >= 128*1024 {
		return nil, fmt.Errorf("%d users make a -users list of %d bytes, more than the 128 KiB one argument may hold: use fewer bindings", len(users), len(list))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &backends{users: users, userIDs: map[string]string{}, owners: map[string]string{}}
	var err error
	if b.graphProc, err = start("graph-emulator", filepath.Join(dir, "graph-emulator.log"), opts.GraphEmulator, "-listen", "127.0.0.1:0", "-users", list, "-retry-after", "0.2"); err != nil {
		return nil, err
	}
	if b.crmProc, err = start("dataverse-emulator", filepath.Join(dir, "dataverse-emulator.log"), opts.DataverseEmulator, "-listen", "127.0.0.1:0", "-users", list); err != nil {
		b.stop()
		return nil, err
	}
	g, err := b.graphProc.waitLines(30*time.Second, "graph_url", "token_url", "control_url")
	if err != nil {
		b.stop()
		return nil, err
	}
	c, err := b.crmProc.waitLines(30*time.Second, "web_api_url", "environment_url", "token_url", "scope", "control_url")
	if err != nil {
		b.stop()
		return nil, err
	}
	b.graphURL, b.graphControl = g["graph_url"], g["control_url"]
	u, err := url.Parse(b.graphURL)
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("graph-emulator printed a bad graph_url: %w", err)
	}
	b.graphRoot = u.Scheme + "://" + u.Host
	b.crmURL, b.crmRoot, b.crmControl = c["web_api_url"], c["environment_url"], c["control_url"]
	b.graph = newAPI(b.graphURL, g["token_url"], "https://graph.microsoft.com/.default", 4, "")
	b.crm = newAPI(b.crmURL, c["token_url"], c["scope"], 52, "MSCRMCallerID")

	var us []struct {
		Email        string `json:"email"`
		SystemUserID string `json:"systemuserid"`
	}
	if err := getJSON(context.Background(), b.crmControl+"/users", &us); err != nil {
		b.stop()
		return nil, fmt.Errorf("read the Dataverse emulator's users: %w", err)
	}
	for _, x := range us {
		b.userIDs[strings.ToLower(x.Email)] = x.SystemUserID
		b.owners[x.SystemUserID] = strings.ToLower(x.Email)
	}
	for _, u := range users {
		if b.userIDs[strings.ToLower(u)] == "" {
			b.stop()
			return nil, fmt.Errorf("the Dataverse emulator has no systemuser for %s", u)
		}
	}
	return b, nil
}

func (b *backends) stop() {
	for _, p := range []*proc{b.graphProc, b.crmProc} {
		if p != nil {
			p.stop()
		}
	}
}

// counts is what the emulators have served so far.
type counts struct {
	graph, crm                   int // requests
	graphThrottled, crmThrottled int // of which answered 429
	graphCreates                 int // POSTs of contacts and events
}

func (c counts) minus(d counts) counts {
	return counts{c.graph - d.graph, c.crm - d.crm, c.graphThrottled - d.graphThrottled,
		c.crmThrottled - d.crmThrottled, c.graphCreates - d.graphCreates}
}

// requests reads both emulators' counters.
func (b *backends) requests(ctx context.Context) (counts, error) {
	var out counts
	for _, e := range []struct {
		control        string
		reqs, throttle *int
	}{{b.graphControl, &out.graph, &out.graphThrottled}, {b.crmControl, &out.crm, &out.crmThrottled}} {
		var c struct {
			Requests  map[string]int
			Throttled int
		}
		if err := getJSON(ctx, e.control+"/counters", &c); err != nil {
			return out, fmt.Errorf("read the emulator's counters: %w", err)
		}
		for _, n := range c.Requests {
			*e.reqs += n
		}
		*e.throttle = c.Throttled
		if e.control == b.graphControl {
			out.graphCreates = c.Requests["POST /users/{u}/contacts"] + c.Requests["POST /users/{u}/events"]
		}
	}
	return out, nil
}
