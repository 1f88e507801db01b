// Command notaplugin is an ordinary program placed where a connector should
// be: it prints a line and exits.
package main

import "fmt"

func main() { fmt.Println("hello, I am not a syncgate connector") }
