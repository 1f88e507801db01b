package caldav_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/plugins/caldav"
	"github.com/syncgate/syncgate/plugins/caldav/davtest"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

func manifestFile(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("cmd", "caldav", "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// configure returns the connector configured for s, with discovery (no
// collections named) unless calendars are given.
func configure(t testing.TB, s *davtest.Server, extra sdk.Fields) *caldav.Connector {
	t.Helper()
	return configureKV(t, s, nil, extra)
}

func configureKV(t testing.TB, s *davtest.Server, kv sdk.KV, extra sdk.Fields) *caldav.Connector {
	t.Helper()
	c := caldav.New(manifestFile(t))
	f := sdk.Fields{"url": sdk.String(s.URL + "/"), "username": sdk.String(s.User), "password": sdk.String(s.Password)}
	for k, v := range extra {
		f[k] = v
	}
	if ds := c.Configure(t.Context(), sdk.Env{Endpoint: "test", KV: kv}, f); ds.HasErrors() {
		t.Fatalf("Configure: %v", ds.Err())
	}
	return c
}

// TestConformanceRadicale runs the SDK's conformance suite against
// Radicale (htpasswd login, one calendar per component, collections found
// by discovery).
func TestConformanceRadicale(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	sdktest.Run(t, configure(t, s, nil), davtest.NewBackend(s, manifestFile(t)))
}

// TestConformanceXandikos runs the suite against Xandikos, whose one
// default calendar holds events and tasks together.
func TestConformanceXandikos(t *testing.T) {
	t.Parallel()
	s := davtest.StartXandikos(t)
	sdktest.Run(t, configure(t, s, nil), davtest.NewBackend(s, manifestFile(t)))
}

// TestConformanceEtagFallback runs the suite against Radicale with change
// detection by getetag listings, as for a server without sync-collection.
// The listings live in the host's key-value store; losing them expires
// the cursors.
func TestConformanceEtagFallback(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	kv := host.NewMemKV()
	b := &forgetfulBackend{davtest.NewBackend(s, manifestFile(t)), kv}
	b.Ents = []string{"contact", "appointment"}
	sdktest.Run(t, configureKV(t, s, kv, sdk.Fields{"change_detection": sdk.String("etags")}), b)
	if all, _ := kv.List(context.Background(), ""); len(all) == 0 || len(all) > 8 {
		t.Errorf("the key-value store holds %d etag listings after the suite: PostSync should keep one per acknowledged feed and collection", len(all))
	}
}

type forgetfulBackend struct {
	*davtest.Backend
	kv sdk.KV
}

func (b *forgetfulBackend) ExpireCursors(ctx context.Context) error {
	all, err := b.kv.List(ctx, "")
	for k := range all {
		b.kv.Delete(ctx, k)
	}
	return err
}
