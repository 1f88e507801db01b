// Command dir-crm is the CRM side of the example directory
// connector. The gateway starts it as a plugin; it is not run by hand.
package main

import (
	_ "embed"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
)

//go:embed connector.hcl
var manifest []byte

func main() { sdk.Serve(dirconnector.New(manifest)) }
