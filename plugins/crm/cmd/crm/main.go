// Command crm is syncgate's Dataverse (Dynamics 365) connector. The gateway
// starts it as a plugin; it is not run by hand.
package main

import (
	_ "embed"

	"github.com/syncgate/syncgate/plugins/crm"
	"github.com/syncgate/syncgate/sdk"
)

//go:embed connector.hcl
var manifest []byte

func main() { sdk.Serve(crm.New(manifest)) }
