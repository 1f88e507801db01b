// Command caldav is the CalDAV/CardDAV mailbox connector. The gateway
// starts it as a plugin; it is not run by hand.
package main

import (
	_ "embed"

	"github.com/syncgate/syncgate/plugins/caldav"
	"github.com/syncgate/syncgate/sdk"
)

//go:embed connector.hcl
var manifest []byte

func main() { sdk.Serve(caldav.New(manifest)) }
