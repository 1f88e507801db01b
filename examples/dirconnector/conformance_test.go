package dirconnector_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/examples/dirconnector/dirtest"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/protocol"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against both connectors
// in-process, with the manifest files that ship beside their binaries.
func TestConformance(t *testing.T) {
	for _, tc := range []struct{ name, scope string }{
		{"dir-mailbox", "alice@example.com"},
		{"dir-crm", "alice@example.com"}, // Apply as alice; the feeds are the endpoint's
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := readManifest(t, tc.name)
			dir := t.TempDir()
			c := configure(t, src, dir)
			backend, err := dirtest.New(dir, src, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			sdktest.Run(t, c, backend)
		})
	}
}

func readManifest(t *testing.T, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("cmd", name, "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func configure(t *testing.T, src []byte, dir string) *dirconnector.Connector {
	t.Helper()
	c := dirconnector.New(src)
	if ds := c.Configure(t.Context(), sdk.Env{Endpoint: "test"}, sdk.Fields{"dir": sdk.String(dir)}); ds.HasErrors() {
		t.Fatalf("Configure: %v", ds.Err())
	}
	return c
}

// TestConformanceOverProtocol runs the suite through the gateway's protocol
// client and the connector's gRPC server, over an in-memory connection: every
// value, cursor and error crosses the wire as it does to a plugin process.
func TestConformanceOverProtocol(t *testing.T) {
	for _, name := range []string{"dir-mailbox", "dir-crm"} {
		t.Run(name, func(t *testing.T) {
			src := readManifest(t, name)
			dir := t.TempDir()
			client := serve(t, dirconnector.New(src))
			ds, err := client.Configure(t.Context(), "test", sdk.Fields{"dir": sdk.String(dir)}, nil)
			if err != nil || ds.HasErrors() {
				t.Fatalf("Configure: %v %v", err, ds.Err())
			}
			backend, err := dirtest.New(dir, src, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			sdktest.Run(t, client, backend)
		})
	}
}

func serve(t *testing.T, c sdk.Connector) *protocol.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	if err := (&protocol.ConnectorPlugin{Impl: c}).GRPCServer(nil, srv); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return protocol.NewClient(conn)
}
