// Package protocol is the gRPC shim between the gateway and a connector
// process: the go-plugin handshake and plugin definition, the server that
// runs inside a connector (behind sdk.Serve), the client the gateway uses,
// and the host key-value store served back to the connector over go-plugin's
// broker.
//
// Connector authors never import this package; sdk.Serve hides it. It must
// not import anything under gateway/.
package protocol

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Version is the protocol version this package speaks.
const Version = 1

// PluginName is the single plugin a connector process serves.
const PluginName = "connector"

// MaxMessageSize raises gRPC's 4 MiB default: an Apply batch or a Fetch of
// items with large bodies must fit. One record's size is bounded by the
// connector, not here.
const MaxMessageSize = 64 << 20

// Handshake is shared by the gateway and every connector. The cookie only
// stops a connector binary from being run by hand by mistake; it is not a
// security measure (the lock file is).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  Version,
	MagicCookieKey:   "SYNCGATE_CONNECTOR",
	MagicCookieValue: "4c1d5e0a-syncgate-connector-v1",
}

// LogLevelEnv names the one environment variable the gateway passes to a
// connector (it sees nothing else of the host's environment).
const LogLevelEnv = "SYNCGATE_LOG_LEVEL"

// DialOptions are the gRPC options the gateway dials a connector with.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize))}
}

func serverOptions(opts []grpc.ServerOption) []grpc.ServerOption {
	return append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
}
