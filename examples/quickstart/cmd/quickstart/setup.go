package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// backend is one emulated backend as the config describes it: where it
// listens and the credentials its token endpoint accepts.
type backend struct {
	Endpoint     string // the endpoint's name in the config
	Listen       string // host:port, from the endpoint's URL
	APIURL       string // graph_url, or the Dataverse Web API url
	TokenURL     string // <authority_url>/<tenant_id>/oauth2/v2.0/token
	Scope        string // what the token endpoint expects as scope
	TenantID     string
	ClientID     string
	ClientSecret string
}

// user is one demo user: a binding's mailbox and CRM user.
type user struct {
	Binding string
	Mailbox string
	CRMUser string
}

// setup is what the quick start needs from syncgate.hcl: the config is the
// one place that names the emulators' addresses and credentials, the demo
// users and the admin listener, so nothing here can drift from it.
type setup struct {
	ConfigPath  string
	DataDir     string
	AdminListen string
	Graph       backend
	CRM         backend
	Users       []user
	// Entities are the entities every binding syncs (both connectors have
	// them); the initial sync is complete when each has had a cycle.
	Entities []string
}

// readSetup reads and resolves the config the way `syncgate validate` does
// (the connectors' manifests come from its plugin_dir) and picks out the
// exchange and crm endpoints.
func readSetup(path string) (*setup, error) {
	cfg, diags := config.Parse(path)
	if cfg == nil || diags.HasErrors() {
		return nil, fmt.Errorf("%s is not a valid config:\n%s", path, errorsOf(diags))
	}
	plugins, ds := host.Discover(cfg.Gateway.PluginDir)
	if ds.HasErrors() || len(plugins) == 0 {
		return nil, fmt.Errorf("no connectors in %s (run `make build` first):\n%s", cfg.Gateway.PluginDir, errorsOf(ds))
	}
	if ds := cfg.Resolve(host.Manifests(plugins)); ds.HasErrors() {
		return nil, fmt.Errorf("%s is not a valid config:\n%s", path, errorsOf(ds))
	}
	s := &setup{ConfigPath: path, DataDir: cfg.Gateway.DataDir, AdminListen: cfg.Gateway.AdminListen}
	var graph, crm *config.Endpoint
	for _, ep := range cfg.Endpoints {
		switch ep.Connector {
		case "exchange":
			graph = ep
		case "crm":
			crm = ep
		}
	}
	if graph == nil || crm == nil {
		return nil, fmt.Errorf("%s needs an endpoint of the exchange connector and one of the crm connector: the quick start runs their emulators", path)
	}
	var err error
	if s.Graph, err = backendOf(graph, "graph_url"); err != nil {
		return nil, err
	}
	// Graph's token endpoint wants Graph's own resource; the emulator takes
	// any scope ending in /.default.
	s.Graph.Scope = "https://graph.microsoft.com/.default"
	if s.CRM, err = backendOf(crm, "url"); err != nil {
		return nil, err
	}
	u, _ := url.Parse(s.CRM.APIURL)
	s.CRM.Scope = u.Scheme + "://" + u.Host + "/.default"
	if sc := crm.Settings["scope"].Str(); sc != "" {
		s.CRM.Scope = sc
	}
	for _, b := range cfg.Bindings {
		if b.MailboxEndpoint != graph.Name || b.CRMEndpoint != crm.Name {
			continue
		}
		s.Users = append(s.Users, user{Binding: b.Name, Mailbox: b.Mailbox, CRMUser: b.CRMUser})
	}
	if len(s.Users) == 0 {
		return nil, fmt.Errorf("%s has no binding between endpoints %q and %q: add one per demo user", path, graph.Name, crm.Name)
	}
	for _, e := range graph.Manifest.Entities {
		if slices.ContainsFunc(crm.Manifest.Entities, func(c *manifest.Entity) bool { return c.Name == e.Name }) {
			s.Entities = append(s.Entities, e.Name)
		}
	}
	slices.Sort(s.Entities)
	return s, nil
}

// errorsOf formats the errors among diags (the literal-secret warnings
// of the quick-start config are expected and left to `syncgate run`).
func errorsOf(diags hcl.Diagnostics) string {
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	return manifest.FormatDiagnostics(errs)
}

// backendOf reads an endpoint's address and credentials. The emulator must
// run on this machine: its URL has to name a loopback host and a port.
func backendOf(ep *config.Endpoint, urlSetting string) (backend, error) {
	b := backend{
		Endpoint:     ep.Name,
		APIURL:       ep.Settings[urlSetting].Str(),
		TenantID:     ep.Settings["tenant_id"].Str(),
		ClientID:     ep.Settings["client_id"].Str(),
		ClientSecret: ep.Settings["client_secret"].Str(),
	}
	u, err := url.Parse(b.APIURL)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return b, fmt.Errorf("endpoint %q: %s = %q is not an emulator's address: the quick start runs the emulator itself, so write http://127.0.0.1:PORT/...", ep.Name, urlSetting, b.APIURL)
	}
	b.Listen = u.Host
	auth := ep.Settings["authority_url"].Str()
	a, err := url.Parse(auth)
	if err != nil || a.Host != u.Host {
		return b, fmt.Errorf("endpoint %q: authority_url = %q must be the emulator's own address (%s): the emulator is also the token endpoint", ep.Name, auth, u.Scheme+"://"+u.Host)
	}
	b.TokenURL = auth + "/" + url.PathEscape(b.TenantID) + "/oauth2/v2.0/token"
	return b, nil
}

// logDir is where the logs of the processes go: next to the data_dir,
// which is cleared at every start.
func (s *setup) logDir() string { return filepath.Join(filepath.Dir(s.DataDir), "logs") }
