// Command caldav-bench compares syncgate's caldav connector with
// vdirsyncer: both copy a Radicale address book of -n vCards into a local
// directory, then one incremental round with -changed of them edited. It
// builds syncgate and its plugins, starts Radicale (Debian's radicale) and
// runs vdirsyncer (Debian's vdirsyncer), and prints both wall times and
// their ratio.
//
//	go run ./plugins/caldav/cmd/caldav-bench -n 5000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/plugins/caldav/bench"
)

func main() {
	n := flag.Int("n", 5000, "vCards in the address book")
	changed := flag.Float64("changed", 0.01, "share of the cards changed before the incremental round")
	keep := flag.Bool("keep", false, "keep the scratch folder")
	verbose := flag.Bool("v", false, "print each run's last lines")
	flag.Parse()
	if err := run(*n, *changed, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "caldav-bench:", err)
		os.Exit(1)
	}
}

func run(n int, changed float64, keep, verbose bool) error {
	dir, err := os.MkdirTemp("", "caldav-bench")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	pluginDir := filepath.Join(dir, "plugins")
	for name, pkg := range map[string]string{"caldav": "plugins/caldav/cmd/caldav", "dir-crm": "examples/dirconnector/cmd/dir-crm"} {
		if err := build(root, pkg, filepath.Join(pluginDir, name, name)); err != nil {
			return err
		}
		src, err := os.ReadFile(filepath.Join(root, pkg, "connector.hcl"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(pluginDir, name, "connector.hcl"), src, 0o644); err != nil {
			return err
		}
	}
	syncgate := filepath.Join(dir, "syncgate")
	if err := build(root, "gateway/cmd/syncgate", syncgate); err != nil {
		return err
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() {
		return diags
	}
	lockFile := filepath.Join(dir, "connectors.lock.hcl")
	lf, err := host.Lock(lockFile, plugins)
	if err != nil {
		return err
	}
	if err := lf.Write(); err != nil {
		return err
	}
	o := bench.Options{N: n, Changed: changed, Dir: dir, Syncgate: syncgate, PluginDir: pluginDir, LockFile: lockFile}
	if verbose {
		o.Log = os.Stderr
	}
	res, err := bench.Run(context.Background(), o)
	if err != nil {
		return err
	}
	fmt.Print(res.Table())
	return nil
}

func build(root, pkg, out string) error {
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("run caldav-bench inside the syncgate module (go run ./plugins/caldav/cmd/caldav-bench)")
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
