// Command crashstart is a connector that dies before its handshake, as one
// with a broken build or a missing library would.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crashstart: cannot initialise: simulated failure")
	os.Exit(2)
}
