// Package bench compares syncgate's caldav connector with vdirsyncer, the
// best-known open-source CalDAV/CardDAV sync tool: both copy a Radicale
// address book of N vCards into a local directory (vdirsyncer's filesystem
// storage; syncgate's caldav → dir-crm), then copy one incremental round
// with a share of the cards changed. It runs real processes only: Radicale,
// vdirsyncer, and `syncgate run --once` with its plugins.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/syncgate/syncgate/plugins/caldav/davtest"
)

// Options says what to run.
type Options struct {
	N         int     // vCards in the address book
	Changed   float64 // the share of cards changed before the incremental round
	Dir       string  // a scratch folder
	Syncgate  string  // the syncgate binary
	PluginDir string  // a plugin_dir holding caldav and dir-crm
	LockFile  string  // its lock file
	Log       io.Writer
}

// Result holds the wall times.
type Result struct {
	N, Changed                      int
	VdirInitial, VdirIncremental    time.Duration
	SyncgateInitial, SyncgateIncrem time.Duration
}

// Table renders the comparison.
func (r Result) Table() string {
	var b strings.Builder
	ratio := func(s, v time.Duration) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(s)/float64(v))
	}
	fmt.Fprintf(&b, "%-28s %12s %12s %20s\n", "round", "vdirsyncer", "syncgate", "syncgate/vdirsyncer")
	fmt.Fprintf(&b, "%-28s %12s %12s %20s\n", fmt.Sprintf("initial copy (%d cards)", r.N), r.VdirInitial.Round(time.Millisecond), r.SyncgateInitial.Round(time.Millisecond), ratio(r.SyncgateInitial, r.VdirInitial))
	fmt.Fprintf(&b, "%-28s %12s %12s %20s\n", fmt.Sprintf("incremental (%d changed)", r.Changed), r.VdirIncremental.Round(time.Millisecond), r.SyncgateIncrem.Round(time.Millisecond), ratio(r.SyncgateIncrem, r.VdirIncremental))
	return b.String()
}

// Run seeds Radicale, then times both tools.
func Run(ctx context.Context, o Options) (Result, error) {
	res := Result{N: o.N}
	if _, err := exec.LookPath("vdirsyncer"); err != nil {
		return res, fmt.Errorf("vdirsyncer is not installed (Debian package vdirsyncer): %w", err)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dav, err := davtest.Start("radicale", filepath.Join(o.Dir, "radicale"))
	if err != nil {
		return res, err
	}
	defer dav.Stop()
	// Seeding writes the files into Radicale's storage folder, as its own
	// PUT would, only faster: Radicale reads the folder on every request.
	coll := filepath.Join(dav.Store, "collection-root", dav.User, strings.Trim(strings.TrimPrefix(dav.Contacts, "/"+dav.User), "/"))
	for i := 0; i < o.N; i++ {
		if err := os.WriteFile(filepath.Join(coll, fmt.Sprintf("card-%06d.vcf", i)), []byte(card(i, "")), 0o644); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(o.Log, "seeded %d vCards into Radicale at %s%s\n", o.N, dav.URL, dav.Contacts)
	// Radicale parses every item into its cache on the first listing:
	// that cost belongs to neither tool, so an untimed listing pays it.
	warm := func() error {
		_, _, err := dav.Do(ctx, "PROPFIND", dav.Contacts, `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`,
			map[string]string{"Depth": "1", "Content-Type": "application/xml"})
		return err
	}
	start := time.Now()
	if err := warm(); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Log, "Radicale's first listing (untimed): %s\n", time.Since(start).Round(time.Millisecond))

	vdirCfg, vdir, err := writeVdirsyncer(o.Dir, dav)
	if err != nil {
		return res, err
	}
	sgCfg, crmDir, err := writeSyncgate(o, dav)
	if err != nil {
		return res, err
	}
	vdirsyncer := func() (time.Duration, error) {
		return timed(ctx, o.Log, "", "vdirsyncer", "-c", vdirCfg, "sync")
	}
	syncgate := func() (time.Duration, error) {
		return timed(ctx, o.Log, filepath.Dir(sgCfg), o.Syncgate, "run", "--once", "-config", sgCfg)
	}
	// vdirsyncer needs its pair discovered once; this is setup, not copying.
	if _, err := timed(ctx, o.Log, "", "vdirsyncer", "-c", vdirCfg, "discover", "contacts"); err != nil {
		return res, err
	}
	if res.VdirInitial, err = vdirsyncer(); err != nil {
		return res, err
	}
	if res.SyncgateInitial, err = syncgate(); err != nil {
		return res, err
	}
	if err := expect(vdir, crmDir, o.N); err != nil {
		return res, err
	}

	res.Changed = max(1, int(float64(o.N)*o.Changed))
	step := max(1, o.N/res.Changed)
	for i, n := 0, 0; n < res.Changed && i < o.N; i, n = i+step, n+1 {
		if err := os.WriteFile(filepath.Join(coll, fmt.Sprintf("card-%06d.vcf", i)), []byte(card(i, " (changed)")), 0o644); err != nil {
			return res, err
		}
	}
	if err := warm(); err != nil {
		return res, err
	}
	if res.VdirIncremental, err = vdirsyncer(); err != nil {
		return res, err
	}
	if res.SyncgateIncrem, err = syncgate(); err != nil {
		return res, err
	}
	if err := expectChanged(vdir, crmDir, res.Changed); err != nil {
		return res, err
	}
	return res, nil
}

func card(i int, suffix string) string {
	return fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-%06d\r\nN:Person%06d;Bench;;;\r\nFN:Bench Person%06d%s\r\n"+
		"EMAIL;TYPE=WORK:bench%06d@example.com\r\nTEL;TYPE=WORK:+1 555 %07d\r\nORG:Bench Corp\r\nEND:VCARD\r\n", i, i, i, suffix, i, i)
}

func timed(ctx context.Context, log io.Writer, dir, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	fmt.Fprintf(log, "%s %s: %s\n%s", filepath.Base(name), strings.Join(args, " "), d.Round(time.Millisecond), lastLines(out.String(), 3))
	if err != nil {
		return d, fmt.Errorf("%s: %v\n%s", name, err, out.String())
	}
	return d, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

func writeVdirsyncer(dir string, dav *davtest.Server) (cfg, vdir string, err error) {
	vdir = filepath.Join(dir, "vdir")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", "", err
	}
	cfg = filepath.Join(dir, "vdirsyncer.conf")
	src := fmt.Sprintf(`[general]
status_path = %q

[pair contacts]
a = "radicale"
b = "local"
collections = null
conflict_resolution = "a wins"

[storage radicale]
type = "carddav"
url = %q
username = %q
password = %q

[storage local]
type = "filesystem"
path = %q
fileext = ".vcf"
`, filepath.Join(dir, "vdirsyncer-status")+"/", dav.URL+dav.Contacts, dav.User, dav.Password, vdir+"/")
	return cfg, vdir, os.WriteFile(cfg, []byte(src), 0o600)
}

func writeSyncgate(o Options, dav *davtest.Server) (cfg, crmDir string, err error) {
	dir := filepath.Join(o.Dir, "gateway-run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	cfg = filepath.Join(dir, "syncgate.hcl")
	crmDir = filepath.Join(dir, "crm")
	src := fmt.Sprintf(`gateway {
  plugin_dir = %q
  lock_file  = %q
  data_dir   = "data"
}

endpoint "caldav" "radicale" {
  url           = %q
  username      = %q
  password      = %q
  address_books = [%q]
}

endpoint "dir-crm" "crm" {
  dir = "crm"
}

binding "alice" {
  mailbox  = %q
  crm_user = "alice@example.com"
}

policy "contact" {
  tracking {
    mode = "all"
  }
}
`, o.PluginDir, o.LockFile, dav.URL+"/", dav.User, dav.Password, dav.Contacts, dav.User)
	return cfg, crmDir, os.WriteFile(cfg, []byte(src), 0o600)
}

var changedRE = regexp.MustCompile(`\(changed\)`)

// expect checks that both copies hold n cards.
func expect(vdir, crmDir string, n int) error {
	files, _ := filepath.Glob(filepath.Join(vdir, "*.vcf"))
	if len(files) != n {
		return fmt.Errorf("vdirsyncer's folder holds %d cards, want %d", len(files), n)
	}
	if got := countFiles(filepath.Join(crmDir, "items")); got != n {
		return fmt.Errorf("syncgate's dir-crm folder holds %d contacts, want %d", got, n)
	}
	return nil
}

// expectChanged checks that both copies carry the n changes.
func expectChanged(vdir, crmDir string, n int) error {
	for name, dir := range map[string]string{"vdirsyncer": vdir, "syncgate": filepath.Join(crmDir, "items")} {
		got := 0
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(p); err == nil && changedRE.Match(b) {
					got++
				}
			}
			return nil
		})
		if got != n {
			return fmt.Errorf("%s's copy has %d changed cards, want %d", name, got, n)
		}
	}
	return nil
}

func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			n++
		}
		return nil
	})
	return n
}
