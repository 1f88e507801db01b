package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// Client is the gateway's handle on one connector process. Its Syncer
// methods return typed *core.Error values for backend failures, and plain
// errors for transport failures (the plugin crashed or hung).
type Client struct {
	rpc    pb.ConnectorClient
	broker *plugin.GRPCBroker
}

var _ core.Syncer = (*Client)(nil)

// NewClient wraps a gRPC connection to a connector without go-plugin (tests
// and in-process harnesses). Such a client cannot offer a key-value store.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: pb.NewConnectorClient(conn)}
}

// Description is Describe's answer.
type Description struct {
	Manifest         []byte
	ProtocolVersions []int32
	Capabilities     []string
}

// Describe returns the connector's embedded manifest and capabilities.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	res, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, err
	}
	return Description{Manifest: res.Manifest, ProtocolVersions: res.ProtocolVersions, Capabilities: res.Capabilities}, nil
}

// Configure sends the endpoint's settings and, if kv is not nil, serves it to
// the connector over the broker.
func (c *Client) Configure(ctx context.Context, endpoint string, config core.Fields, kv core.KV) (core.Diagnostics, error) {
	var id uint32
	if kv != nil && c.broker != nil {
		id = c.broker.NextId()
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(serverOptions(opts)...)
			pb.RegisterHostKVServer(s, &kvServer{kv: kv})
			return s
		})
	}
	res, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Endpoint: endpoint, Config: fieldsToPB(config), KvBrokerId: id, ProtocolVersion: Version})
	if err != nil {
		return nil, err
	}
	return diagsFromPB(res.Diagnostics), nil
}

// Check verifies the connection and resolves binding scopes.
func (c *Client) Check(ctx context.Context, scopes []string) (core.CheckResult, error) {
	res, err := c.rpc.Check(ctx, &pb.CheckRequest{Scopes: scopes})
	if err != nil {
		return core.CheckResult{}, err
	}
	out := core.CheckResult{Diagnostics: diagsFromPB(res.Diagnostics)}
	for _, s := range res.Scopes {
		out.Scopes = append(out.Scopes, core.ScopeInfo{Scope: s.Scope, RoutingKeys: s.RoutingKeys, Diagnostics: diagsFromPB(s.Diagnostics)})
	}
	return out, nil
}

// PrepareSync implements core.Syncer.
func (c *Client) PrepareSync(ctx context.Context, feed core.Feed, cursor core.Cursor) (core.Pending, error) {
	res, err := c.rpc.PrepareSync(ctx, &pb.PrepareSyncRequest{Feed: feedToPB(feed), Cursor: cursor})
	if err != nil {
		return core.Pending{}, err
	}
	if err := errorFromPB(res.Error); err != nil {
		return core.Pending{}, err
	}
	return core.Pending{Kind: core.PendingKind(res.Kind), Count: res.Count}, nil
}

// GetSyncData implements core.Syncer.
func (c *Client) GetSyncData(ctx context.Context, req core.SyncDataRequest) (core.SyncDataPage, error) {
	res, err := c.rpc.GetSyncData(ctx, &pb.GetSyncDataRequest{Feed: feedToPB(req.Feed), Cursor: req.Cursor, PageToken: req.PageToken, Max: int32(min(req.Max, math.MaxInt32))})
	if err != nil {
		return core.SyncDataPage{}, err
	}
	if err := errorFromPB(res.Error); err != nil {
		return core.SyncDataPage{}, err
	}
	page := core.SyncDataPage{NextPageToken: res.NextPageToken, Cursor: res.Cursor}
	for _, r := range res.Records {
		page.Records = append(page.Records, changeFromPB(r))
	}
	return page, nil
}

// PostSync implements core.Syncer.
func (c *Client) PostSync(ctx context.Context, feed core.Feed, cursor core.Cursor) error {
	res, err := c.rpc.PostSync(ctx, &pb.PostSyncRequest{Feed: feedToPB(feed), Cursor: cursor})
	if err != nil {
		return err
	}
	return errorFromPB(res.Error)
}

// Fetch implements core.Syncer.
func (c *Client) Fetch(ctx context.Context, scope, entity string, ids []string) ([]core.FetchResult, error) {
	res, err := c.rpc.Fetch(ctx, &pb.FetchRequest{Scope: scope, Entity: entity, Ids: ids})
	if err != nil {
		return nil, err
	}
	if err := errorFromPB(res.Error); err != nil {
		return nil, err
	}
	if len(res.Results) != len(ids) {
		return nil, fmt.Errorf("connector returned %d results for %d ids", len(res.Results), len(ids))
	}
	out := make([]core.FetchResult, len(res.Results))
	for i, r := range res.Results {
		out[i] = core.FetchResult{ID: r.Id, Record: recordFromPB(r.Record), Err: typedErrorFromPB(r.Error)}
	}
	return out, nil
}

// Apply implements core.Syncer.
func (c *Client) Apply(ctx context.Context, scope, entity string, ops []core.Op) ([]core.OpResult, error) {
	req := &pb.ApplyRequest{Scope: scope, Entity: entity}
	for _, o := range ops {
		req.Ops = append(req.Ops, opToPB(o))
	}
	res, err := c.rpc.Apply(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := errorFromPB(res.Error); err != nil {
		return nil, err
	}
	if len(res.Results) != len(ops) {
		return nil, fmt.Errorf("connector returned %d results for %d ops", len(res.Results), len(ops))
	}
	out := make([]core.OpResult, len(res.Results))
	for i, r := range res.Results {
		out[i] = core.OpResult{ID: r.Id, Version: r.Version, Err: typedErrorFromPB(r.Error)}
	}
	return out, nil
}

// ErrUnsupported is returned by Watch and HandleWebhook when the connector
// does not have the capability.
var ErrUnsupported = errors.New("not supported by this connector")

// Watch streams hints for scope to fn until ctx ends or the stream breaks.
func (c *Client) Watch(ctx context.Context, scope string, fn func(core.Hint)) error {
	stream, err := c.rpc.Watch(ctx, &pb.WatchRequest{Scope: scope})
	if err != nil {
		return unsupported(err)
	}
	for {
		h, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return unsupported(err)
		}
		fn(hintFromPB(h))
	}
}

// HandleWebhook hands a notification to the connector.
func (c *Client) HandleWebhook(ctx context.Context, req core.WebhookRequest) (core.WebhookResponse, error) {
	res, err := c.rpc.HandleWebhook(ctx, &pb.WebhookRequest{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: req.Body})
	if err != nil {
		return core.WebhookResponse{}, unsupported(err)
	}
	out := core.WebhookResponse{Status: int(res.Status), Headers: res.Headers, Body: res.Body}
	for _, h := range res.Hints {
		out.Hints = append(out.Hints, hintFromPB(h))
	}
	return out, nil
}

// Stop asks the connector to release what it holds before it is killed.
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.rpc.Stop(ctx, &pb.StopRequest{})
	return err
}

func unsupported(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return ErrUnsupported
	}
	return err
}
