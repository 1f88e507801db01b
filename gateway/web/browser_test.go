package web_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/engine"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
)

const alice = "alice@example.com"

// chromium finds Debian's chromium. Without it the test cannot run: in CI
// (which installs it) that is a failure, elsewhere a skip that says what
// to install.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run installs Debian's chromium package for this test")
	}
	t.Skip("chromium is not installed: install Debian's package chromium (apt-get install chromium) to run the page's browser test")
	return ""
}

// gateway is one run of the real syncgate binary, with real plugin
// processes of the example directory connector on both sides.
type gateway struct {
	t         *testing.T
	bin, cfg  string
	addr      string
	token     string
	cmd       *exec.Cmd
	logFile   string // the process's output, which the OS appends to
	crm, mail *dirconnector.Store
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	// The gateway builds while the connectors do.
	bin := filepath.Join(t.TempDir(), "syncgate")
	var buildOut bytes.Buffer
	build := exec.Command("go", "build", "-o", bin, "../cmd/syncgate")
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // when the connectors' build failed
		if build.ProcessState == nil {
			build.Process.Kill()
			build.Wait()
		}
	}()
	pluginDir, lockFile := testplugins.Build(t)
	if err := build.Wait(); err != nil {
		t.Fatalf("build: %v\n%s", err, buildOut.String())
	}
	dir := t.TempDir()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cfg := filepath.Join(dir, "syncgate.hcl")
	src := fmt.Sprintf(`gateway {
  plugin_dir   = %q
  lock_file    = %q
  data_dir     = "data"
  admin_listen = %q
}

endpoint "dir-mailbox" "mail" {
  dir           = "mailboxes"
  poll_interval = "200ms"
}

endpoint "dir-crm" "crm" {
  dir           = "crm"
  poll_interval = "200ms"
}

binding "alice" {
  mailbox  = %q
  crm_user = %q
}

policy "contact" {
  tracking {
    mode = "all"
  }
}

policy "service_appointment" {
  on_blocked = "report"
}
`, pluginDir, lockFile, addr, alice, alice)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, bin: bin, cfg: cfg, addr: addr}
	g.crm = must(dirconnector.Open(filepath.Join(dir, "crm")))
	g.mail = must(dirconnector.Open(filepath.Join(dir, "mailboxes")))
	return g
}

// must is for the test's own setup steps, which do not fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (g *gateway) logs() string {
	b, _ := os.ReadFile(g.logFile)
	return string(b)
}

func (g *gateway) dataDir() string { return filepath.Join(filepath.Dir(g.cfg), "data") }

// start runs the gateway and waits until its admin API answers.
func (g *gateway) start() {
	t := g.t
	t.Helper()
	g.logFile = filepath.Join(t.TempDir(), "syncgate.log")
	out, err := os.Create(g.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // the process has its own copy
	g.cmd = exec.Command(g.bin, "run", "-config", g.cfg)
	g.cmd.Stdout, g.cmd.Stderr = out, out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := g.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	g.waitFor("the admin API", func() bool {
		b, err := os.ReadFile(filepath.Join(g.dataDir(), admin.TokenFile))
		if err != nil {
			return false
		}
		g.token = strings.TrimSpace(string(b))
		var st admin.Status
		return g.call(http.MethodGet, "/v1/status", &st) == nil
	})
}

// stop ends the gateway as an operator would, with SIGTERM.
func (g *gateway) stop() {
	g.t.Helper()
	g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.cmd.Wait(); err != nil {
		g.t.Fatalf("exit after SIGTERM: %v\n%s", err, g.logs())
	}
}

func (g *gateway) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s; gateway log:\n%s", what, g.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *gateway) call(method, path string, v any) error {
	req, _ := http.NewRequest(method, "http://"+g.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

func (g *gateway) get(path string, v any) {
	g.t.Helper()
	if err := g.call(http.MethodGet, path, v); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) post(path string) {
	g.t.Helper()
	var res map[string]string
	if err := g.call(http.MethodPost, path, &res); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) binding(name string) admin.BindingStatus {
	g.t.Helper()
	var st admin.Status
	g.get("/v1/status", &st)
	for _, b := range st.Bindings {
		if b.Name == name {
			return b
		}
	}
	g.t.Fatalf("no binding %q in %+v", name, st)
	return admin.BindingStatus{}
}

// setUp syncs a few contacts and a service appointment, and leaves
// binding alice with two dead letters and one blocked change, all made by
// the gateway itself.
func (g *gateway) setUp() {
	t := g.t
	for i := range 3 {
		g.crm.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("CRM %d", i))})
	}
	g.mail.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String("Mailbox 0")})
	// Fields outside the canonical model: every write of these fails for good.
	g.crm.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String("Bad"), "shoe_size": sdk.Int(44)})
	g.crm.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String("Worse"), "hat_size": sdk.Int(7)})
	g.crm.Create("agent@example.com", "service_appointment", "", sdk.Fields{"subject": sdk.String("Boiler repair"),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(alice), "role": sdk.String("resource")}))})

	g.start()
	g.waitFor("the sync and two failing contacts", func() bool {
		b := g.binding("alice")
		return b.Retrying == 2 && b.Queued == 2 && len(must(g.mail.List(alice, "contact"))) == 4 &&
			len(must(g.mail.List(alice, "service_appointment"))) == 1
	})
	g.stop()

	// A failing record becomes a dead letter after engine's MaxAttempts,
	// which with its backoff takes over half a minute: the stopped
	// gateway's records are put at their last attempt instead, so that the
	// next run's engine makes the dead letters itself, at once.
	db := must(store.Open(store.Options{Dir: g.dataDir(), GCInterval: -1}))
	err := db.Update(func(tx *store.Tx) error {
		var failing []store.Change
		if err := store.Scan(tx, store.QueuePrefix("alice"), func(_ []byte, c *store.Change) bool {
			if c.Attempts > 0 {
				failing = append(failing, *c)
			}
			return true
		}); err != nil {
			return err
		}
		if len(failing) != 2 {
			return fmt.Errorf("%d failing records, want 2: %+v", len(failing), failing)
		}
		for _, c := range failing {
			c.Attempts, c.NotBefore = 1<<20, time.Time{}
			if err := tx.PutChange(c); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The service appointment flows from the CRM only: this edit is blocked.
	sa := must(g.mail.List(alice, "service_appointment"))[0]
	f := sa.Fields.Clone()
	f["subject"] = sdk.String("Let's skip it")
	must(g.mail.Update(alice, "service_appointment", sa.ID, sa.Version, f))

	// And one more contact to sync, for the recent changes.
	g.crm.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String("CRM 3")})

	g.start()
	g.waitFor("two dead letters, a blocked change and the new contact", func() bool {
		b := g.binding("alice")
		return b.DeadLetters == 2 && b.Blocked == 1 && b.Queued == 0 && len(must(g.mail.List(alice, "contact"))) == 5
	})
}

// pageState is what the page shows, read from its data attributes.
type pageState struct {
	Refreshes int                 `json:"refreshes"`
	Bindings  []map[string]string `json:"bindings"`
	Totals    map[string]string   `json:"totals"`
	Dead      []map[string]string `json:"dead"`
	Blocked   []map[string]string `json:"blocked"`
	Recent    []string            `json:"recent"`
	Message   string              `json:"message"`
}

const readPage = `(() => {
  const fields = (r) => Object.fromEntries([...r.querySelectorAll("[data-field]")].map((c) => [c.dataset.field, c.textContent]));
  return {
    refreshes: +document.querySelector("#refreshed").dataset.refreshes,
    bindings: [...document.querySelectorAll("#bindings tbody tr[data-binding]")].map((r) => ({
      ...fields(r), binding: r.dataset.binding, row_health: r.dataset.health,
      last_cycle_time: r.querySelector("[data-field=last_cycle]").dataset.time })),
    totals: Object.fromEntries(["bindings", "queued", "blocked", "dead-letters"].map((k) => [k, document.getElementById("total-" + k).textContent])),
    dead: [...document.querySelectorAll("#dead-letters tbody tr[data-seq]")].map((r) => ({ ...fields(r), key: r.dataset.binding + "/" + r.dataset.seq })),
    blocked: [...document.querySelectorAll("#blocked tbody tr[data-seq]")].map((r) => ({ ...fields(r), key: r.dataset.binding + "/" + r.dataset.seq })),
    recent: [...document.querySelectorAll("#recent tbody tr[data-action]")].map((r) => r.dataset.action),
    message: document.querySelector("#message").textContent,
  };
})()`

// expected is what the page should show for the admin API's answers.
func (g *gateway) expected() pageState {
	var (
		st      admin.Status
		dead    []store.DeadLetter
		blocked []store.Blocked
		recent  []engine.Event
	)
	g.get("/v1/status", &st)
	g.get("/v1/dead-letters", &dead)
	g.get("/v1/blocked", &blocked)
	g.get("/v1/recent", &recent)
	want := pageState{Totals: map[string]string{"bindings": strconv.Itoa(len(st.Bindings))}, Dead: []map[string]string{}, Blocked: []map[string]string{}, Recent: []string{}}
	var queued, nblocked, ndead int
	for _, b := range st.Bindings {
		queued, nblocked, ndead = queued+b.Queued, nblocked+b.Blocked, ndead+b.DeadLetters
		row := map[string]string{"binding": b.Name, "name": b.Name,
			"queued": strconv.Itoa(b.Queued), "retrying": strconv.Itoa(b.Retrying),
			"blocked": strconv.Itoa(b.Blocked), "dead_letters": strconv.Itoa(b.DeadLetters)}
		sums := map[string]int{}
		var last time.Time
		for _, c := range b.Entities {
			for k, n := range map[string]int{"collected": c.Collected, "created": c.Created, "updated": c.Updated,
				"deleted": c.Deleted, "conflicts": c.Conflicts, "errors": c.Errors} {
				sums[k] += n
			}
			if c.LastCycle.After(last) {
				last = c.LastCycle
			}
		}
		for k, n := range sums {
			row[k] = strconv.Itoa(n)
		}
		if !last.IsZero() {
			row["last_cycle_time"] = last.Format(time.RFC3339Nano)
		}
		want.Bindings = append(want.Bindings, row)
	}
	want.Totals["queued"], want.Totals["blocked"], want.Totals["dead-letters"] = strconv.Itoa(queued), strconv.Itoa(nblocked), strconv.Itoa(ndead)
	for _, d := range dead {
		c := d.Change
		want.Dead = append(want.Dead, map[string]string{"key": fmt.Sprintf("%s/%d", c.Binding, c.Seq),
			"entity": c.Ref.Entity, "item": c.Ref.ID, "side": string(c.Side), "kind": c.Kind.String(), "error": d.Error})
	}
	for _, b := range blocked {
		want.Blocked = append(want.Blocked, map[string]string{"key": fmt.Sprintf("%s/%d", b.Change.Binding, b.Change.Seq),
			"entity": b.Change.Ref.Entity, "item": cmp.Or(b.Item, b.Change.Ref.ID), "side": string(b.Change.Side), "op": b.Op, "rule": b.Rule, "action": b.Action})
	}
	for _, ev := range recent[:min(len(recent), 50)] {
		want.Recent = append(want.Recent, ev.Action)
	}
	return want
}

// mismatch compares the page with the API, field by field for what the
// API says; "" when they agree.
func mismatch(got, want pageState) string {
	var diffs []string
	if len(got.Bindings) != len(want.Bindings) {
		return fmt.Sprintf("page shows %d bindings, the API %d", len(got.Bindings), len(want.Bindings))
	}
	for i, w := range want.Bindings {
		for k, v := range w {
			if k == "last_cycle_time" {
				gt, _ := time.Parse(time.RFC3339Nano, got.Bindings[i][k])
				wt, _ := time.Parse(time.RFC3339Nano, v)
				if !gt.Equal(wt) {
					diffs = append(diffs, fmt.Sprintf("%s last cycle: page %q, API %q", w["name"], got.Bindings[i][k], v))
				}
				continue
			}
			if got.Bindings[i][k] != v {
				diffs = append(diffs, fmt.Sprintf("%s %s: page %q, API %q", w["name"], k, got.Bindings[i][k], v))
			}
		}
	}
	for k, v := range want.Totals {
		if got.Totals[k] != v {
			diffs = append(diffs, fmt.Sprintf("total %s: page %q, API %q", k, got.Totals[k], v))
		}
	}
	diffs = append(diffs, mismatchRows("dead letter", got.Dead, want.Dead)...)
	diffs = append(diffs, mismatchRows("blocked change", got.Blocked, want.Blocked)...)
	if !slices.Equal(got.Recent, want.Recent) {
		diffs = append(diffs, fmt.Sprintf("recent changes: page %v, API %v", got.Recent, want.Recent))
	}
	return strings.Join(diffs, "\n")
}

// mismatchRows compares the rows of a list on the page with the API's.
func mismatchRows(what string, got, want []map[string]string) []string {
	if len(got) != len(want) {
		return []string{fmt.Sprintf("%ss: page %v, API %v", what, got, want)}
	}
	var diffs []string
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				diffs = append(diffs, fmt.Sprintf("%s %s %s: page %q, API %q", what, w["key"], k, got[i][k], v))
			}
		}
	}
	return diffs
}

// matchAPI waits for a refresh of the page that shows what the API says:
// the page refreshes every 2 s, so a change lands within a few refreshes.
func matchAPI(t *testing.T, ctx context.Context, g *gateway) pageState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		want := g.expected()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
		if err != nil {
			t.Fatal(err)
		}
		diff := mismatch(got, want)
		if diff == "" && got.Refreshes > 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page does not show what the API says:\n%s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPageInBrowser(t *testing.T) {
	began := time.Now()
	browser := chromium(t)

	// Headless and without /dev/shm come with the defaults; no sandbox,
	// since CI may run as root.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The browser starts while the gateway is built and set up.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()

	g := newGateway(t)
	g.setUp()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	t.Logf("gateway built, synced and restarted, and browser started, in %s", time.Since(began))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()
	base := "http://" + g.addr + "/"

	// A wrong token: the page says so, and where the right one is.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#token=not-the-token"), chromedp.WaitVisible(chromedp.CSS("#auth"))); err != nil {
		t.Fatal(err)
	}
	authMsg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#auth-message")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(authMsg, "refused") || !strings.Contains(authMsg, "admin.token") || !strings.Contains(authMsg, "data_dir") {
		t.Fatalf("wrong token message: %q", authMsg)
	}
	// The form takes the right one.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token-input"), g.token),
		chromedp.Click(chromedp.CSS("#token-form button")),
		chromedp.WaitVisible(chromedp.CSS("#dashboard")),
	); err != nil {
		t.Fatal(err)
	}

	// A fresh tab given the token in the fragment, which leaves the
	// address bar.
	tab, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(base+"#token="+g.token), chromedp.WaitVisible(chromedp.CSS("#dashboard"))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, "token") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}

	got := matchAPI(t, tab, g)
	if len(got.Dead) != 2 || len(got.Blocked) != 1 || got.Bindings[0]["row_health"] != "failing" || !strings.Contains(got.Bindings[0]["reason"], "2 dead letters") {
		t.Fatalf("after the sync the page shows %+v", got)
	}
	if b := got.Blocked[0]; !strings.Contains(b["rule"], "crm_to_mailbox") || b["action"] != "report" {
		t.Fatalf("blocked change %+v", b)
	}
	if !slices.Contains(got.Recent, "created") || !slices.Contains(got.Recent, "blocked") {
		t.Fatalf("recent changes %v", got.Recent)
	}
	checkDerivations(t, tab)

	// A paused binding shows as paused, with its reason.
	g.post("/v1/bindings/alice/pause?reason=moving%20offices")
	waitPage(t, tab, "the paused binding", `document.querySelector("#bindings tr[data-binding=alice]").dataset.health === "paused"`)
	if reason, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#bindings tr[data-binding=alice] [data-field=reason]`))); err != nil || reason != "moving offices" {
		t.Fatalf("paused binding's reason: %q %v", reason, err)
	}
	g.post("/v1/bindings/alice/resume")

	// Retry one dead letter: it goes back into the queue.
	retried, dropped := got.Dead[0]["key"], got.Dead[1]["key"]
	button := func(action, key string) string {
		b, seq, _ := strings.Cut(key, "/")
		return fmt.Sprintf(`#dead-letters button[data-action=%q][data-binding=%q][data-seq=%q]`, action, b, seq)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(button("retry", retried)))); err != nil {
		t.Fatal(err)
	}
	g.waitFor("the retried dead letter back in the queue", func() bool {
		var dead []store.DeadLetter
		g.get("/v1/dead-letters", &dead)
		b := g.binding("alice")
		return len(dead) == 1 && fmt.Sprintf("alice/%d", dead[0].Change.Seq) == dropped && b.Queued == 1 && b.DeadLetters == 1
	})
	got = matchAPI(t, tab, g)
	if !strings.Contains(got.Message, "requeued") {
		t.Errorf("message after retry: %q", got.Message)
	}

	// Drop the other, confirming the browser's question.
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil || !strings.Contains(ev.Message, "Drop dead letter") {
				return
			}
			chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(button("drop", dropped)))); err != nil {
		t.Fatal(err)
	}
	g.waitFor("the dropped dead letter gone", func() bool {
		var dead []store.DeadLetter
		g.get("/v1/dead-letters", &dead)
		return len(dead) == 0 && g.binding("alice").Queued == 1 // dropping queues nothing
	})
	got = matchAPI(t, tab, g)
	if len(got.Dead) != 0 || !strings.Contains(got.Message, "dropped") {
		t.Fatalf("after the drop the page shows %+v", got)
	}

	// An action the gateway refuses (here a dead letter that is gone, as
	// when another operator dealt with it first) is shown as an error.
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`(() => {
  const b = document.createElement("button");
  Object.assign(b.dataset, { action: "retry", binding: "alice", seq: "999999" });
  act(b);
})()`)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "the refused retry's message",
		`document.querySelector("#message").dataset.kind === "error" && document.querySelector("#message").textContent.includes("no dead letter 999999")`)

	// Opened with no token, the page asks for one.
	bare, cancelBare := chromedp.NewContext(ctx)
	defer cancelBare()
	if err := chromedp.Do(bare, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#auth"))); err != nil {
		t.Fatal(err)
	}
	if msg, err := chromedp.Run(bare, chromedp.Text(chromedp.CSS("#auth-message"))); err != nil || !strings.Contains(msg, "needs the gateway's admin token") || !strings.Contains(msg, "admin.token") {
		t.Fatalf("page without a token: %q %v", msg, err)
	}

	// The gateway stops: the page says so at its next refresh.
	g.stop()
	waitPage(t, tab, "the page to notice the gateway is gone",
		`document.querySelector("#state").dataset.state === "error" && document.querySelector("#state").textContent.includes("does not answer")`)
}

// waitPage waits until a JavaScript condition holds in the page.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDerivations runs the page's own functions on made-up statuses: each
// health a binding can have, endpoint trouble, counters summed over
// entities, and relative times.
func checkDerivations(t *testing.T, ctx context.Context) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[
  health({paused: true, paused_reason: "moving offices", retrying: 1, queued: 4}, []),
  health({paused: true}, []),
  health({retrying: 1, queued: 1}, []),
  health({dead_letters: 2, blocked: 1}, []),
  health({queued: 0}, ["endpoint crm held: secret refused"]),
  health({blocked: 1, queued: 3}, []),
  health({queued: 3}, []),
  health({queued: 0, retrying: 0, blocked: 0, dead_letters: 0}, []),
  troubleOf({held_endpoints: {crm: "secret refused"}, endpoints: [
    {endpoint: "crm", state: "running"}, {endpoint: "mail", state: "crash_looping", last_error: "exit status 2"}, {endpoint: "x", state: "restarting"}]}),
  ...[sumEntities({
    contact: { collected: 2, errors: 1, last_error: "older", last_cycle: "2026-01-01T00:00:00Z" },
    task: { collected: 3, last_cycle: "2026-01-02T00:00:00Z" },
    appointment: { errors: 2, last_error: "newer", last_cycle: "2026-01-01T12:00:00Z" } }), sumEntities(null)].map((r) =>
    [String(r.sum.collected), String(r.sum.errors), String(r.sum.created), r.last, r.lastError]),
  [ago("0001-01-01T00:00:00Z"), ago(new Date(Date.now() - 5000).toISOString()), ago(new Date(Date.now() - 125000).toISOString()),
   ago(new Date(Date.now() - 3 * 3600000).toISOString()), ago(new Date(Date.now() - 50 * 3600000).toISOString())],
]`))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"paused", "moving offices"},
		{"paused", "paused"},
		{"failing", "1 retrying"},
		{"failing", "2 dead letters"},
		{"failing", "endpoint crm held: secret refused"},
		{"blocked", "1 blocked changes"},
		{"syncing", "3 queued"},
		{"in-sync", ""},
		{"endpoint crm held: secret refused", "endpoint mail crash-looping: exit status 2"},
		{"5", "3", "0", "2026-01-02T00:00:00Z", "newer"},
		{"0", "0", "0", "", ""},
		{"never", "5 s ago", "2 min ago", "3 h ago", "2 d ago"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("the page derives\n%q\nwant\n%q", got, want)
	}
}
