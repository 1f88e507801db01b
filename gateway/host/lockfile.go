package host

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFile is connectors.lock.hcl: the sha256 the operator accepted for each
// connector binary. Checksums live here, not in the manifest, because
// whoever can swap a binary can swap the manifest beside it.
type LockFile struct {
	Path       string
	Connectors map[string]LockEntry
}

// LockEntry pins one connector.
type LockEntry struct {
	Version string
	SHA256  string
}

type lockFileHCL struct {
	Connectors []struct {
		Name    string `hcl:"name,label"`
		Version string `hcl:"version"`
		SHA256  string `hcl:"sha256"`
	} `hcl:"connector,block"`
}

// ReadLockFile reads a lock file. A missing file is an error that says how
// to write one.
func ReadLockFile(path string) (*LockFile, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read lock file",
			Detail: fmt.Sprintf("%v. Write it with: %s", err, relockCommand("", path))}}
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var raw lockFileHCL
	if diags := gohcl.DecodeBody(file.Body, nil, &raw); diags.HasErrors() {
		return nil, diags
	}
	lf := &LockFile{Path: path, Connectors: map[string]LockEntry{}}
	for _, c := range raw.Connectors {
		sum := strings.ToLower(c.SHA256)
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid checksum",
				Detail: fmt.Sprintf("connector %q in %s: sha256 must be 64 hex digits", c.Name, path)}}
		}
		lf.Connectors[c.Name] = LockEntry{Version: c.Version, SHA256: sum}
	}
	return lf, nil
}

// Write writes the lock file atomically, connectors sorted by name.
func (lf *LockFile) Write() error {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: 0, Bytes: []byte(
		"# connectors.lock.hcl: the sha256 of each connector binary this gateway accepts.\n" +
			"# Written by `syncgate plugins lock`; re-run it after building or upgrading a connector.\n")}})
	names := make([]string, 0, len(lf.Connectors))
	for n := range lf.Connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := lf.Connectors[n]
		body.AppendNewline()
		b := body.AppendNewBlock("connector", []string{n}).Body()
		b.SetAttributeValue("version", cty.StringVal(e.Version))
		b.SetAttributeValue("sha256", cty.StringVal(e.SHA256))
	}
	return writeFileAtomic(lf.Path, f.Bytes(), 0o644)
}

// Checksum returns the pinned checksum as bytes for go-plugin's SecureConfig.
func (e LockEntry) Checksum() []byte {
	b, _ := hex.DecodeString(e.SHA256)
	return b
}

// Verify checks a discovered connector's binary against the lock file.
func (lf *LockFile) Verify(p *Plugin) error {
	e, ok := lf.Connectors[p.Name]
	if !ok {
		return fmt.Errorf("connector %q is not in the lock file %s; if you trust %s, run: %s",
			p.Name, lf.Path, p.Binary, relockCommand(filepath.Dir(p.Dir), lf.Path))
	}
	sum, err := HashFile(p.Binary)
	if err != nil {
		return fmt.Errorf("connector %q: %w", p.Name, err)
	}
	if sum != e.SHA256 {
		return &ChecksumError{Connector: p.Name, Binary: p.Binary, LockFile: lf.Path, Expected: e.SHA256, Actual: sum,
			Relock: relockCommand(filepath.Dir(p.Dir), lf.Path)}
	}
	return nil
}

// ChecksumError says a binary is not the one the lock file pins.
type ChecksumError struct {
	Connector, Binary, LockFile, Expected, Actual, Relock string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("connector %q refused: %s has sha256 %s, but the lock file %s pins %s; "+
		"if you built or upgraded it on purpose, re-lock with: %s",
		e.Connector, e.Binary, e.Actual, e.LockFile, e.Expected, e.Relock)
}

func relockCommand(pluginDir, lockPath string) string {
	cmd := "syncgate plugins lock"
	if pluginDir != "" {
		cmd += " --plugin-dir " + pluginDir
	}
	return cmd + " --lock-file " + lockPath
}

// Lock computes the lock file for every connector in plugins.
func Lock(path string, plugins []*Plugin) (*LockFile, error) {
	lf := &LockFile{Path: path, Connectors: map[string]LockEntry{}}
	for _, p := range plugins {
		sum, err := HashFile(p.Binary)
		if err != nil {
			return nil, fmt.Errorf("connector %q: %w", p.Name, err)
		}
		lf.Connectors[p.Name] = LockEntry{Version: p.Manifest.Version, SHA256: sum}
	}
	return lf, nil
}

// HashFile returns a file's sha256 as lower-case hex.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
