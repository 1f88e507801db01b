// Command dataverse-emulator serves the Dataverse Web API emulator (package
// dataverseemu) on a local address for the CRM connector's tests, the
// benchmarks and the quick start. It prints the settings a connector needs
// and runs until SIGINT or SIGTERM.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
)

// tenant is the directory the printed authority names; the token endpoint
// accepts any.
const tenant = "syncgate-emulator"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dataverse-emulator:", err)
		os.Exit(2)
	}
}

// run parses the flags, serves until ctx is done, then shuts the server
// down, letting requests in flight finish.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataverse-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9102", "address to listen on (port 0 picks a free one)")
	users := fs.String("users", "alice@contoso.example,bob@contoso.example", "comma-separated e-mail addresses; each becomes a systemuser")
	clientID := fs.String("client-id", "syncgate-emulator", "client id the token endpoint accepts")
	clientSecret := fs.String("client-secret", "syncgate-emulator-secret", "client secret the token endpoint accepts")
	seed := fs.Bool("seed", false, "create demo contacts, appointments, a weekly series, tasks and a service appointment per user")
	retryAfter := seconds(time.Second)
	fs.Var(&retryAfter, "retry-after", "what throttled (429) answers ask clients to wait, as a duration (2s) or seconds (2); sent as whole seconds, at least 1")
	maxConc := fs.Int("max-concurrent", 52, "concurrent requests allowed per caller before 429")
	tokenExpiry := fs.Duration("token-expiry", 0, "lifetime of change-tracking delta tokens (0 = never expire)")
	idColumn := fs.String("id-column", "sg_syncgateid", "custom column that carries syncgate's id on contacts and activities")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag (see -h)", fs.Args())
	}
	if retryAfter <= 0 || *maxConc <= 0 || *tokenExpiry < 0 {
		return errors.New("-retry-after and -max-concurrent must be positive and -token-expiry must not be negative")
	}
	var emails []string
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if !strings.Contains(u, "@") {
			return fmt.Errorf("-users: %q is not an e-mail address (name@domain)", u)
		}
		emails = append(emails, u)
	}
	if len(emails) == 0 {
		return errors.New("-users: give at least one e-mail address")
	}
	emu := dataverseemu.New(dataverseemu.Options{
		Users: emails, ClientID: *clientID, ClientSecret: *clientSecret, RetryAfter: time.Duration(retryAfter),
		Seed: *seed, MaxConcurrentPerUser: *maxConc, TokenExpiry: *tokenExpiry, IDColumn: *idColumn,
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another address with -listen)", *listen, err)
	}
	env := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "environment_url=%s\nweb_api_url=%s/api/data/v9.2\nauthority_url=%s/%s\ntoken_url=%s/%s/oauth2/v2.0/token\nscope=%s/.default\nclient_id=%s\ncontrol_url=%s/_emulator\n",
		env, env, env, tenant, env, tenant, env, *clientID, env)
	for _, u := range emails {
		fmt.Fprintf(stdout, "user=%s systemuserid=%s\n", u, emu.UserID(u))
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// seconds is a duration flag that also takes a plain number of seconds, as
// a Retry-After header does.
type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }

func (s *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		*s = seconds(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (2s) nor a number of seconds", v)
	}
	*s = seconds(d)
	return nil
}
