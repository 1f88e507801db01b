package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRunServesAndStops starts the command on a free port, uses the printed
// settings to get a token and read the seeded data, and stops it as SIGINT
// would.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-users", "ann@example.com", "-seed", "-client-secret", "pw", "-retry-after", "2"}, pw, io.Discard)
		pw.Close()
	}()
	settings := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		settings[k] = v
		if k == "user" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasPrefix(settings["user"], "ann@example.com systemuserid=") {
		t.Fatalf("printed settings %v", settings)
	}
	resp, err := http.PostForm(settings["token_url"], url.Values{"client_id": {settings["client_id"]}, "client_secret": {"pw"},
		"grant_type": {"client_credentials"}, "scope": {settings["scope"]}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", settings["web_api_url"]+"/contacts?$select=fullname", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Value []map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body.Value) != 3 {
		t.Fatalf("seeded contacts: %d, %d rows", resp.StatusCode, len(body.Value))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "not-an-address"},
		{"-users", " , "},
		{"-retry-after", "0s"},
		{"-retry-after", "0"},
		{"-retry-after", "soon"},
		{"-max-concurrent", "0"},
		{"extra"},
		{"-nosuchflag"},
		{"-listen", "256.0.0.1:1"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

func TestSecondsFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"2": 2 * time.Second, "0.5": 500 * time.Millisecond, "1500ms": 1500 * time.Millisecond} {
		var s seconds
		if err := s.Set(in); err != nil || time.Duration(s) != want {
			t.Errorf("-retry-after %s: %v %v, want %v", in, time.Duration(s), err, want)
		}
	}
}
