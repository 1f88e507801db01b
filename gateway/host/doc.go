// Package host finds, verifies, launches and supervises connector processes.
//
// Discovery reads plugin_dir (one folder per connector holding its binary and
// connector.hcl); the lock file pins each binary's sha256, which is checked
// before launch and handed to go-plugin's SecureConfig; Launch starts a
// connector over gRPC with automatic mutual TLS, no host environment, and a
// parent-death signal, then refuses it if its embedded manifest disagrees
// with the file beside it; a Supervisor keeps one endpoint's process alive,
// restarting it with backoff and marking it crash-looping, and puts a
// timeout on every call.
//
// It never interprets what connectors sync: that is the engine's business.
package host
