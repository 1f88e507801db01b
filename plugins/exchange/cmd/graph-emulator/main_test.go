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

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-users", "ann@example.org", "-client-id", "cid", "-client-secret", "sec", "-seed", "-retry-after", "0.05"}, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	urls := map[string]string{}
	for len(urls) < 6 && lines.Scan() {
		k, v, _ := strings.Cut(lines.Text(), "=")
		urls[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasSuffix(urls["graph_url"], "/v1.0") || urls["authority_url"] == "" || urls["client_id"] != "cid" || urls["users"] != "ann@example.org" {
		t.Fatalf("printed %v", urls)
	}
	resp, err := http.PostForm(urls["authority_url"]+"/oauth2/v2.0/token", url.Values{"client_id": {"cid"}, "client_secret": {"sec"},
		"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", urls["graph_url"]+"/users/ann@example.org/contacts", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Value []any }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page.Value) != 3 {
		t.Fatalf("seeded contacts: status %d, %d contacts", resp.StatusCode, len(page.Value))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", ""},
		{"-users", "not-an-upn"},
		{"-retry-after", "0"},
		{"-listen", "256.0.0.1:bad"},
		{"extra"},
		{"-nope"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
