package protocol

import (
	"context"
	"maps"
	"slices"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// kvClient is the connector's view of the host key-value store.
type kvClient struct{ rpc pb.HostKVClient }

var _ core.KV = (*kvClient)(nil)

func (k *kvClient) Get(ctx context.Context, key string) ([]byte, bool, error) {
	res, err := k.rpc.Get(ctx, &pb.KVGetRequest{Key: key})
	if err != nil {
		return nil, false, err
	}
	return res.Value, res.Found, nil
}

func (k *kvClient) Put(ctx context.Context, key string, value []byte) error {
	_, err := k.rpc.Put(ctx, &pb.KVPutRequest{Key: key, Value: value})
	return err
}

func (k *kvClient) Delete(ctx context.Context, key string) error {
	_, err := k.rpc.Delete(ctx, &pb.KVDeleteRequest{Key: key})
	return err
}

func (k *kvClient) List(ctx context.Context, prefix string) (map[string][]byte, error) {
	res, err := k.rpc.List(ctx, &pb.KVListRequest{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(res.Pairs))
	for _, p := range res.Pairs {
		out[p.Key] = p.Value
	}
	return out, nil
}

// kvServer serves the gateway's store for one connector instance.
type kvServer struct {
	pb.UnimplementedHostKVServer
	kv core.KV
}

func (s *kvServer) Get(ctx context.Context, req *pb.KVGetRequest) (*pb.KVGetResponse, error) {
	v, found, err := s.kv.Get(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	return &pb.KVGetResponse{Value: v, Found: found}, nil
}

func (s *kvServer) Put(ctx context.Context, req *pb.KVPutRequest) (*pb.KVPutResponse, error) {
	return &pb.KVPutResponse{}, s.kv.Put(ctx, req.Key, req.Value)
}

func (s *kvServer) Delete(ctx context.Context, req *pb.KVDeleteRequest) (*pb.KVDeleteResponse, error) {
	return &pb.KVDeleteResponse{}, s.kv.Delete(ctx, req.Key)
}

func (s *kvServer) List(ctx context.Context, req *pb.KVListRequest) (*pb.KVListResponse, error) {
	m, err := s.kv.List(ctx, req.Prefix)
	if err != nil {
		return nil, err
	}
	out := &pb.KVListResponse{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out.Pairs = append(out.Pairs, &pb.KVPair{Key: k, Value: m[k]})
	}
	return out, nil
}
