// Command syncgate is the sync gateway: see `syncgate help`.
package main

import (
	"os"

	"github.com/syncgate/syncgate/gateway/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
