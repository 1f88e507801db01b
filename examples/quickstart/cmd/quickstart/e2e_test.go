//go:build unix

package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventually polls cond every 200ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestQuickstartEndToEnd is `make run` with a small seed: the real
// emulators, gateway and connectors as processes. The initial sync
// completes, an edit through each emulator's API arrives on the other
// side, and Ctrl-C (SIGINT) stops every process.
func TestQuickstartEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every process of the quick start")
	}
	a := freeAddrs(t)
	path, dataDir := testConfig(t, a)
	// A leftover of an earlier run that the quick start must clear.
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "leftover"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := builtBin(t)
	// The quick start runs in this process (its children are processes):
	// the SIGINT below reaches its signal handler as a Ctrl-C would.
	// Its output goes to a file, which takes writes and reads at once.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	output := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"-config", path, "-bin", bin,
			"-seed-contacts", "20", "-seed-appointments", "10", "-seed-tasks", "4", "-seed-service-appointments", "1"}, out, out)
	}()
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(dataDir), "logs", "syncgate.log"))
		return output() + "\n--- syncgate.log:\n" + string(b)
	}
	defer func() {
		if t.Failed() {
			t.Log(logs())
		}
	}()

	deadline := time.After(45 * time.Second)
	for !strings.Contains(output(), "initial sync complete") {
		select {
		case code := <-exited:
			t.Fatalf("the quick start exited (%d) before the initial sync completed", code)
		case <-deadline:
			t.Fatal("no `initial sync complete` within 45s")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "leftover")); !os.IsNotExist(err) {
		t.Error("the data_dir of an earlier run was not cleared")
	}
	token, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "web page:    http://" + a.admin + "/#token=" + strings.TrimSpace(string(token)); !strings.Contains(output(), want) {
		t.Errorf("the output does not show %q", want)
	}
	if !strings.Contains(output(), "GRAPH=$(curl -s http://"+a.graph+"/contoso/oauth2/v2.0/token") {
		t.Error("the output does not show the curl commands")
	}

	// Every process: the quick start's children and the gateway's
	// connector processes.
	pids := startedPids(output())
	if len(pids) != 3 {
		t.Fatalf("started %v, want three processes", pids)
	}
	st, err := fetchStatus(context.Background(), a.admin, strings.TrimSpace(string(token)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range st.Endpoints {
		if ep.Pid == 0 {
			t.Fatalf("endpoint %s has no connector process: %+v", ep.Endpoint, ep)
		}
		pids["connector "+ep.Endpoint] = ep.Pid
	}

	s, err := readSetup(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	graph := newAPI(ctx, s.Graph, nil)
	crm := newAPI(ctx, s.CRM, nil)

	// A contact made in alice's mailbox reaches the CRM.
	const email = "marie.curie@example.com"
	if _, err := graph.do(ctx, http.MethodPost, "/users/alice@contoso.example/contacts", map[string]any{
		"givenName": "Marie", "surname": "Curie", "emailAddresses": []any{map[string]any{"address": email}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	var found struct {
		Value []struct {
			ID       string `json:"contactid"`
			FullName string `json:"fullname"`
		} `json:"value"`
	}
	query := "/contacts?$select=contactid,fullname&$filter=" + url.QueryEscape("emailaddress1 eq '"+email+"'")
	eventually(t, 20*time.Second, "the mailbox contact did not reach the CRM", func() bool {
		_, err := crm.do(ctx, http.MethodGet, query, nil, &found)
		return err == nil && len(found.Value) == 1 && found.Value[0].FullName == "Marie Curie"
	})

	// Its job title, set in the CRM, reaches the mailbox.
	if _, err := crm.do(ctx, http.MethodPatch, "/contacts("+found.Value[0].ID+")", map[string]any{"jobtitle": "Physicist"}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the CRM edit did not reach the mailbox", func() bool {
		var list struct {
			Value []struct {
				DisplayName string `json:"displayName"`
				JobTitle    string `json:"jobTitle"`
			} `json:"value"`
		}
		if _, err := graph.do(ctx, http.MethodGet, "/users/alice@contoso.example/contacts?$select=displayName,jobTitle&$top=1000", nil, &list); err != nil {
			return false
		}
		for _, c := range list.Value {
			if c.DisplayName == "Marie Curie" && c.JobTitle == "Physicist" {
				return true
			}
		}
		return false
	})

	// Ctrl-C stops everything, and the quick start exits 0.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d after Ctrl-C", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the quick start did not stop within 30s of Ctrl-C")
	}
	if !strings.Contains(output(), "stopped syncgate and both emulators") {
		t.Error("no word that everything stopped")
	}
	for name, pid := range pids {
		waitGone(t, name, pid)
	}
}
