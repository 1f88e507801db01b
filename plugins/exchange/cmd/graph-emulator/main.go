// Command graph-emulator serves the Microsoft Graph emulator (package
// graphemu) on a local address, for the Exchange connector's tests, the
// benchmarks and the quick start. It prints the URLs to configure and runs
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/syncgate/syncgate/plugins/exchange/graphemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed
		}
		fmt.Fprintln(os.Stderr, "graph-emulator:", err)
		os.Exit(2)
	}
}

// run parses flags, serves until ctx ends and shuts down cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graph-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9101", "address to listen on")
	users := fs.String("users", "alice@contoso.example,bob@contoso.example", "comma-separated userPrincipalNames; each gets a default contacts folder, calendar and To Do list")
	clientID := fs.String("client-id", graphemu.DefaultClientID, "the client id the token endpoint accepts")
	clientSecret := fs.String("client-secret", graphemu.DefaultClientSecret, "the client secret the token endpoint accepts")
	seed := fs.Bool("seed", false, "give each user demo contacts, events (a weekly series with an exception) and tasks")
	retryAfter := fs.Float64("retry-after", graphemu.DefaultRetryAfter.Seconds(), "seconds (fractions allowed, e.g. 0.05) that throttled answers ask clients to wait")
	maxConc := fs.Int("max-concurrent", graphemu.DefaultMaxInFlight, "concurrent requests allowed per mailbox before 429")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: all settings are flags (see -h)", fs.Args())
	}
	if *retryAfter <= 0 {
		return fmt.Errorf("-retry-after must be more than 0 seconds, got %v", *retryAfter)
	}
	var upns []string
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if !strings.Contains(u, "@") {
				return fmt.Errorf("-users: %q is not a userPrincipalName (name@domain)", u)
			}
			upns = append(upns, u)
		}
	}
	if len(upns) == 0 {
		return errors.New("-users: at least one userPrincipalName is needed")
	}
	emu := graphemu.New(graphemu.Options{
		Users: upns, ClientID: *clientID, ClientSecret: *clientSecret, Seed: *seed,
		RetryAfter:              time.Duration(*retryAfter * float64(time.Second)),
		MaxConcurrentPerMailbox: *maxConc,
	})
	defer emu.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another address with -listen)", *listen, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "graph_url=%s/v1.0\nauthority_url=%s/syncgate-emulator\ntoken_url=%s/syncgate-emulator/oauth2/v2.0/token\ncontrol_url=%s/_emulator\nclient_id=%s\nusers=%s\n",
		base, base, base, base, *clientID, strings.Join(upns, ","))
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "graph-emulator: stopped")
	return nil
}
