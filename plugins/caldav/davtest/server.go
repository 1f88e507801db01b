// Package davtest starts real CalDAV/CardDAV servers (Debian's radicale and
// xandikos) on 127.0.0.1 with a temporary storage folder, for the caldav
// connector's tests and benchmark, and makes changes in them as a user's
// calendar or address book client would: plain PUT and DELETE of
// hand-written iCalendar and vCard text, sharing no code with the connector.
package davtest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is one running CalDAV/CardDAV server.
type Server struct {
	Kind      string // "radicale" or "xandikos"
	URL       string // http://127.0.0.1:port
	User      string
	Password  string
	Dir       string // its folder: the password file, and the storage when Store is not apart
	Store     string // its storage folder
	Calendar  string // the calendar collection for events
	Tasks     string // the calendar collection for tasks (the same as Calendar on Xandikos)
	Contacts  string // the address book
	cmd       *exec.Cmd
	log       bytes.Buffer
	http      *http.Client
	stopped   chan struct{}
	shm       bool
	exitError error
}

// Packages names the Debian package of each server.
var Packages = map[string]string{"radicale": "radicale", "xandikos": "xandikos"}

// Start starts the named server ("radicale" or "xandikos") with storage
// under dir, creates its collections and waits until it answers.
func Start(kind, dir string) (s *Server, err error) {
	// The free port is found by listening and closing, so another process
	// may take it before the server binds it: then the server exits at
	// start, and a new port is tried.
	for attempt := 0; attempt < 3; attempt++ {
		if s, err = start(kind, dir); err == nil || !errors.Is(err, errExited) {
			return s, err
		}
	}
	return nil, err
}

var errExited = errors.New("exited at start")

func start(kind, dir string) (*Server, error) {
	bin, err := exec.LookPath(kind)
	if err != nil {
		return nil, fmt.Errorf("%s is not installed (Debian package %s): %w", kind, Packages[kind], err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: kind, URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, Store: filepath.Join(dir, "store"), http: &http.Client{Timeout: 10 * time.Minute}}
	// The storage goes to memory where there is a tmpfs: both servers fsync
	// every file they write (Radicale each cache entry too), which tests
	// and the benchmark, timing the clients, do not need.
	if shm, err := os.MkdirTemp("/dev/shm", "davtest-"+kind+"-"); err == nil {
		s.Store, s.shm = shm, true
	}
	switch kind {
	case "radicale":
		s.User, s.Password = "alice", "wonderland"
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(s.User+":"+s.Password+"\n"), 0o600); err != nil {
			return nil, err
		}
		s.cmd = exec.Command(bin, "--config", "", "--server-hosts", fmt.Sprintf("127.0.0.1:%d", port),
			"--auth-type", "htpasswd", "--auth-htpasswd-filename", htpasswd, "--auth-htpasswd-encryption", "plain",
			"--auth-delay", "0", "--storage-filesystem-folder", s.Store, "--logging-level", "warning")
		s.Calendar, s.Tasks, s.Contacts = "/alice/calendar/", "/alice/tasks/", "/alice/contacts/"
	case "xandikos":
		s.User = "user"
		s.cmd = exec.Command(bin, "-d", s.Store, "--defaults", "-l", "127.0.0.1", "-p", fmt.Sprint(port))
		s.Calendar, s.Tasks, s.Contacts = "/user/calendars/calendar/", "/user/calendars/calendar/", "/user/contacts/addressbook/"
	default:
		return nil, fmt.Errorf("davtest: no server %q", kind)
	}
	if err := s.run(); err != nil {
		s.Stop()
		return nil, err
	}
	if kind == "radicale" {
		for _, c := range []struct{ method, href, body string }{
			{"MKCALENDAR", s.Calendar, mkcalendar("VEVENT")},
			{"MKCALENDAR", s.Tasks, mkcalendar("VTODO")},
			{"MKCOL", s.Contacts, `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>` +
				`<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`},
		} {
			if _, _, err := s.Do(context.Background(), c.method, c.href, c.body, map[string]string{"Content-Type": "application/xml"}); err != nil {
				s.Stop()
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Server) run() error {
	s.stopped = make(chan struct{})
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.Kind, err)
	}
	stopped := s.stopped
	go func() { s.exitError = s.cmd.Wait(); close(stopped) }()
	if err := s.waitReady(); err != nil {
		s.stop()
		return err
	}
	return nil
}

// restart stops the server and starts it again on the same port.
func (s *Server) restart() error {
	s.stop()
	s.cmd = exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	return s.run()
}

func mkcalendar(comp string) string {
	return `<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>` +
		`<c:supported-calendar-component-set><c:comp name="` + comp + `"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.stopped:
			return fmt.Errorf("%s %w: %v\n%s", s.Kind, errExited, s.exitError, s.log.String())
		default:
		}
		req, _ := http.NewRequest("OPTIONS", s.URL+"/", nil)
		if res, err := s.http.Do(req); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer on %s within 20s:\n%s", s.Kind, s.URL, s.log.String())
}

// Stop ends the server and removes a storage folder kept in memory.
func (s *Server) Stop() {
	s.stop()
	if s.shm {
		os.RemoveAll(s.Store)
	}
}

func (s *Server) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		<-s.stopped
	}
}

// Log returns what the server printed.
func (s *Server) Log() string { return s.log.String() }

// Do sends one request as the server's user and returns the status, the
// headers and the body; a status outside 2xx is an error.
func (s *Server) Do(ctx context.Context, method, href, body string, header map[string]string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+href, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if s.Password != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return res.StatusCode, res.Header, fmt.Errorf("%s %s: %d %s", method, href, res.StatusCode, strings.TrimSpace(string(b)))
	}
	return res.StatusCode, res.Header, nil
}

// ExpireSyncTokens makes the server forget every sync token it issued, as a
// server does that prunes its change history: Radicale loses the token
// files of its cache; on Xandikos, whose token is a git tree, each
// collection's history is cut to its current tree and the rest pruned.
func (s *Server) ExpireSyncTokens() error {
	root := s.Store
	switch s.Kind {
	case "radicale":
		dirs, _ := filepath.Glob(filepath.Join(root, "collection-root", "*", "*", ".Radicale.cache", "sync-token"))
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
		return nil
	case "xandikos":
		repos, _ := filepath.Glob(filepath.Join(root, "*", "*", "*", ".git"))
		for _, g := range repos {
			dir := filepath.Dir(g)
			script := `set -e
tree=$(git rev-parse HEAD^{tree})
c=$(git -c user.name=davtest -c user.email=davtest@example.com commit-tree "$tree" -m "history cut")
git update-ref HEAD "$c" 2>/dev/null || git update-ref "$(git symbolic-ref HEAD)" "$c"
git reflog expire --expire=now --all
git gc -q --prune=now`
			cmd := exec.Command("sh", "-c", script)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("cutting the history of %s: %v\n%s", dir, err, out)
			}
		}
		return s.restart() // it may still hold the pruned objects in memory
	}
	return fmt.Errorf("davtest: cannot expire the tokens of %s", s.Kind)
}

// StartRadicale starts Radicale for a test and stops it at the end. Without
// the binary the test is skipped, or fails when the environment variable
// CI is set.
func StartRadicale(t testing.TB) *Server { return startFor(t, "radicale") }

// StartXandikos starts Xandikos for a test, as StartRadicale.
func StartXandikos(t testing.TB) *Server { return startFor(t, "xandikos") }

func startFor(t testing.TB, kind string) *Server {
	t.Helper()
	if _, err := exec.LookPath(kind); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed: install the Debian package %s (.ci/run does)", kind, Packages[kind])
		}
		t.Skipf("%s is not installed: apt-get install %s to run this test", kind, Packages[kind])
	}
	s, err := Start(kind, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Items returns the text of every member of the collection coll, by href:
// a PROPFIND for the names, then a GET each.
func (s *Server) Items(ctx context.Context, coll string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", s.URL+coll, strings.NewReader(
		`<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml")
	if s.Password != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	res, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var ms struct {
		Hrefs []string `xml:"response>href"`
	}
	if err := xml.NewDecoder(res.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("PROPFIND %s: %w", coll, err)
	}
	out := map[string]string{}
	for _, h := range ms.Hrefs {
		if u, err := url.Parse(h); err == nil {
			h = u.Path
		}
		if strings.HasSuffix(h, "/") {
			continue
		}
		greq, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+h, nil)
		if s.Password != "" {
			greq.SetBasicAuth(s.User, s.Password)
		}
		gres, err := s.http.Do(greq)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(gres.Body)
		gres.Body.Close()
		if gres.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d", h, gres.StatusCode)
		}
		out[h] = string(b)
	}
	return out, nil
}
