// Package core defines the plain Go types of the connector protocol: values,
// records, change records, operations, typed errors, diagnostics and the
// interfaces a connector implements.
//
// It is internal so that it can be shared by package sdk (what authors import,
// which re-exports everything here) and by sdk/protocol (the gRPC shim the
// gateway also uses) without an import cycle. It must never import gRPC,
// go-plugin or anything under gateway/.
package core
