package protocol

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// Serve runs impl as a connector process until the gateway stops it or goes
// away. It does not return normally.
func Serve(impl core.Connector) {
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      hclog.LevelFromString(os.Getenv(LogLevelEnv)),
		Output:     os.Stderr,
		JSONFormat: true, // the gateway parses these lines and re-logs them under the endpoint's name
	})
	watchParent(logger)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginSet(impl),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(serverOptions(opts)...)
		},
		Logger: logger,
	})
	os.Exit(0)
}

// watchParent makes the connector exit when the gateway that started it is
// gone, even if the kernel's parent-death signal was not delivered (the
// gateway sets one, but only Linux has it, and it fires per thread).
func watchParent(logger hclog.Logger) {
	setParentDeathSignal()
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				logger.Warn("gateway process is gone; exiting", "parent", parent)
				os.Exit(3)
			}
		}
	}()
}

type server struct {
	pb.UnimplementedConnectorServer
	impl   core.Connector
	broker *plugin.GRPCBroker
	kvConn *grpc.ClientConn
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	var caps []string
	if _, ok := s.impl.(core.Watcher); ok {
		caps = append(caps, "watch")
	}
	if _, ok := s.impl.(core.WebhookHandler); ok {
		caps = append(caps, "webhook")
	}
	if _, ok := s.impl.(core.Stopper); ok {
		caps = append(caps, "stop")
	}
	return &pb.DescribeResponse{Manifest: s.impl.Manifest(), ProtocolVersions: []int32{Version}, Capabilities: caps}, nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if req.ProtocolVersion != Version {
		return &pb.ConfigureResponse{Diagnostics: diagsToPB(core.Diagnostics{core.Errorf(nil,
			"unsupported protocol version", "the gateway speaks version %d, this connector speaks %d", req.ProtocolVersion, Version)})}, nil
	}
	env := core.Env{Endpoint: req.Endpoint, Logger: hclog.Default().Named(req.Endpoint)}
	if req.KvBrokerId != 0 {
		if s.kvConn != nil {
			s.kvConn.Close()
		}
		conn, err := s.broker.Dial(req.KvBrokerId)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "dial host key-value store: %v", err)
		}
		s.kvConn = conn
		env.KV = &kvClient{rpc: pb.NewHostKVClient(conn)}
	}
	ds := s.impl.Configure(ctx, env, fieldsFromPB(req.Config))
	return &pb.ConfigureResponse{Diagnostics: diagsToPB(ds)}, nil
}

func (s *server) Check(ctx context.Context, req *pb.CheckRequest) (*pb.CheckResponse, error) {
	res, err := s.impl.Check(ctx, req.Scopes)
	if err != nil {
		res.Diagnostics = append(res.Diagnostics, core.Errorf(nil, "check failed", "%v", err))
	}
	out := &pb.CheckResponse{Diagnostics: diagsToPB(res.Diagnostics)}
	for _, sc := range res.Scopes {
		out.Scopes = append(out.Scopes, &pb.ScopeInfo{Scope: sc.Scope, RoutingKeys: sc.RoutingKeys, Diagnostics: diagsToPB(sc.Diagnostics)})
	}
	return out, nil
}

func (s *server) PrepareSync(ctx context.Context, req *pb.PrepareSyncRequest) (*pb.PrepareSyncResponse, error) {
	p, err := s.impl.PrepareSync(ctx, feedFromPB(req.Feed), req.Cursor)
	if err != nil {
		return &pb.PrepareSyncResponse{Error: errorToPB(err)}, nil
	}
	return &pb.PrepareSyncResponse{Kind: pb.PendingKind(p.Kind), Count: p.Count}, nil
}

func (s *server) GetSyncData(ctx context.Context, req *pb.GetSyncDataRequest) (*pb.GetSyncDataResponse, error) {
	page, err := s.impl.GetSyncData(ctx, core.SyncDataRequest{
		Feed: feedFromPB(req.Feed), Cursor: req.Cursor, PageToken: req.PageToken, Max: int(req.Max)})
	if err != nil {
		return &pb.GetSyncDataResponse{Error: errorToPB(err)}, nil
	}
	out := &pb.GetSyncDataResponse{NextPageToken: page.NextPageToken, Cursor: page.Cursor}
	for _, r := range page.Records {
		out.Records = append(out.Records, changeToPB(r))
	}
	return out, nil
}

func (s *server) PostSync(ctx context.Context, req *pb.PostSyncRequest) (*pb.PostSyncResponse, error) {
	return &pb.PostSyncResponse{Error: errorToPB(s.impl.PostSync(ctx, feedFromPB(req.Feed), req.Cursor))}, nil
}

func (s *server) Fetch(ctx context.Context, req *pb.FetchRequest) (*pb.FetchResponse, error) {
	results, err := s.impl.Fetch(ctx, req.Scope, req.Entity, req.Ids)
	if err != nil {
		return &pb.FetchResponse{Error: errorToPB(err)}, nil
	}
	out := &pb.FetchResponse{}
	for _, r := range results {
		out.Results = append(out.Results, &pb.FetchResult{Id: r.ID, Record: recordToPB(r.Record), Error: errorToPB(errOrNil(r.Err))})
	}
	return out, nil
}

func (s *server) Apply(ctx context.Context, req *pb.ApplyRequest) (*pb.ApplyResponse, error) {
	ops := make([]core.Op, len(req.Ops))
	for i, o := range req.Ops {
		ops[i] = opFromPB(o)
	}
	results, err := s.impl.Apply(ctx, req.Scope, req.Entity, ops)
	if err != nil {
		return &pb.ApplyResponse{Error: errorToPB(err)}, nil
	}
	if len(results) != len(ops) {
		return &pb.ApplyResponse{Error: errorToPB(core.NewError(core.ErrPermanent,
			"connector bug: %d results for %d ops", len(results), len(ops)))}, nil
	}
	out := &pb.ApplyResponse{}
	for _, r := range results {
		out.Results = append(out.Results, &pb.OpResult{Id: r.ID, Version: r.Version, Error: errorToPB(errOrNil(r.Err))})
	}
	return out, nil
}

func (s *server) Watch(req *pb.WatchRequest, stream pb.Connector_WatchServer) error {
	w, ok := s.impl.(core.Watcher)
	if !ok {
		return status.Error(codes.Unimplemented, "this connector does not watch")
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	hints := make(chan core.Hint, 16)
	done := make(chan error, 1)
	go func() { done <- w.Watch(ctx, req.Scope, hints) }()
	for {
		select {
		case h := <-hints:
			if err := stream.Send(hintToPB(h)); err != nil {
				return err
			}
		case err := <-done:
			return err
		}
	}
}

func (s *server) HandleWebhook(ctx context.Context, req *pb.WebhookRequest) (*pb.WebhookResponse, error) {
	h, ok := s.impl.(core.WebhookHandler)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this connector takes no webhooks")
	}
	res, err := h.HandleWebhook(ctx, core.WebhookRequest{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: req.Body})
	if err != nil {
		return nil, status.Error(codes.Internal, fmt.Sprintf("webhook: %v", err))
	}
	out := &pb.WebhookResponse{Status: int32(res.Status), Headers: res.Headers, Body: res.Body}
	for _, hint := range res.Hints {
		out.Hints = append(out.Hints, hintToPB(hint))
	}
	return out, nil
}

func (s *server) Stop(ctx context.Context, _ *pb.StopRequest) (*pb.StopResponse, error) {
	if st, ok := s.impl.(core.Stopper); ok {
		if err := st.Stop(ctx); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &pb.StopResponse{}, nil
}

// errOrNil keeps a nil *core.Error from becoming a non-nil error interface.
func errOrNil(e *core.Error) error {
	if e == nil {
		return nil
	}
	return e
}
