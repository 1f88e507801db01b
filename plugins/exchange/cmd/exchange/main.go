// Command exchange is syncgate's Microsoft Graph mailbox connector. The
// gateway starts it as a plugin; it is not run by hand.
package main

import (
	_ "embed"

	"github.com/syncgate/syncgate/plugins/exchange"
	"github.com/syncgate/syncgate/sdk"
)

//go:embed connector.hcl
var manifest []byte

func main() { sdk.Serve(exchange.New(manifest)) }
