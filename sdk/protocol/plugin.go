package protocol

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// ConnectorPlugin is the go-plugin definition of a connector. In the
// connector process Impl is set; in the gateway it is nil and GRPCClient
// returns a *Client.
type ConnectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl core.Connector
}

var _ plugin.GRPCPlugin = (*ConnectorPlugin)(nil)

// GRPCServer registers the connector service.
func (p *ConnectorPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, &server{impl: p.Impl, broker: broker})
	return nil
}

// GRPCClient returns the gateway's client for a connector process.
func (p *ConnectorPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Client{rpc: pb.NewConnectorClient(c), broker: broker}, nil
}

// PluginSet is the plugin map both sides use.
func PluginSet(impl core.Connector) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &ConnectorPlugin{Impl: impl}}
}
