package bench

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/syncgate/syncgate/gateway/admin"
)

// gatewayRun is one `syncgate run` process against a pair of emulators.
type gatewayRun struct {
	proc    *proc
	client  *admin.Client
	dir     string
	started time.Time
}

// configTemplate is the operator's configuration the bench runs with:
// the Exchange endpoint learns of mailbox changes by notifications (its
// poll is a ten-minute safety net), the CRM endpoint polls.
const configTemplate = `gateway {
  data_dir      = %[1]q
  plugin_dir    = %[2]q
  lock_file     = %[3]q
  log_level     = "warn"
  admin_listen  = %[4]q
  bindings_file = "bindings.csv"
}

endpoint "exchange" "mail" {
  tenant_id        = %[5]q
  client_id        = %[6]q
  client_secret    = %[7]q
  authority_url    = %[8]q
  graph_url        = %[9]q
  notification_url = "http://%[4]s/hooks/mail"
  poll_interval    = %[10]q
}

endpoint "crm" "crm" {
  url           = %[11]q
  authority_url = %[12]q
  tenant_id     = %[5]q
  client_id     = %[6]q
  client_secret = %[7]q
  poll_interval = %[13]q
}

policy "contact" {
  tracking {
    mode = "all"
  }
}

policy "appointment" {
  tracking {
    mode = "all"
  }
}
`

// mailboxPoll is the Exchange endpoint's poll interval: long, so that
// only notifications can explain a mailbox change arriving quickly.
const mailboxPoll = 10 * time.Minute

// startGateway writes a config and a bindings file (one binding per user,
// the mailbox and the CRM user the same address) into dir and runs the
// gateway until its admin API answers.
func startGateway(ctx context.Context, opts *Options, b *backends, dir string) (*gatewayRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "bindings.csv"))
	if err != nil {
		return nil, err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"name", "mailbox", "crm_user"})
	for i, u := range b.users {
		w.Write([]string{fmt.Sprintf("b%d", i), u, u})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return nil, fmt.Errorf("write the bindings file: %w", err)
	}
	dataDir := filepath.Join(dir, "data")
	cfg := fmt.Sprintf(configTemplate, dataDir, opts.PluginDir, opts.LockFile, addr,
		emuTenant, emuClientID, emuClientSecret, b.graphRoot, b.graphURL, mailboxPoll.String(),
		b.crmURL, b.crmRoot, opts.CRMPoll.String())
	cfgPath := filepath.Join(dir, "syncgate.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	g := &gatewayRun{dir: dir, started: time.Now()}
	if g.proc, err = start("syncgate", filepath.Join(dir, "gateway.log"), opts.Syncgate, "run", "-config", cfgPath); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if g.client, err = admin.Dial(dataDir, addr); err == nil {
			return g, nil
		}
		if g.proc.exited() {
			return nil, fmt.Errorf("syncgate run exited at start (config %s): %s", cfgPath, g.proc.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			g.proc.stop()
			return nil, fmt.Errorf("the gateway's admin API did not answer on %s within 60s: %s", addr, g.proc.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

func (g *gatewayRun) status() (*admin.Status, error) {
	var st admin.Status
	if err := g.client.Get("/v1/status", &st); err != nil {
		if g.proc.exited() {
			return nil, fmt.Errorf("the gateway exited: %s", g.proc.tail())
		}
		return nil, err
	}
	return &st, nil
}

// totals adds up the bindings' counters of one entity and their queues.
type totals struct {
	created, dead, errors, queued int
	cycled                        int // bindings whose entity has a last cycle
}

func sum(st *admin.Status, entity string) totals {
	var t totals
	for _, b := range st.Bindings {
		t.queued += b.Queued
		c := b.Entities[entity]
		t.created += c.Created
		t.dead += b.DeadLetters
		t.errors += c.Errors
		if !c.LastCycle.IsZero() {
			t.cycled++
		}
	}
	return t
}

// waitSynced waits until every seeded item has its mailbox copy (or a
// dead letter) and returns when the last copy was written. It watches the
// Graph emulator's count of creates, which costs the gateway nothing, and
// asks the gateway's status only every few seconds: a status read scans
// every queued record (0.7 s with 36,000 queued on a busy 2-core machine),
// so reading it often would slow down the very sync it measures.
func (g *gatewayRun) waitSynced(ctx context.Context, opts *Options, b *backends, contacts, appointments int) (time.Time, error) {
	want := contacts + appointments
	var c, a totals
	var lastStatus time.Time
	for {
		n, err := b.requests(ctx)
		if err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		if n.graphCreates >= want || now.Sub(lastStatus) >= statusEvery(now.Sub(g.started)) {
			st, err := g.status()
			if err != nil {
				return time.Time{}, err
			}
			c, a = sum(st, "contact"), sum(st, "appointment")
			if c.created+a.created+c.dead >= want {
				return now, nil
			}
			if lastStatus.IsZero() || now.Sub(lastStatus) > 10*time.Second {
				opts.logf("  %s: %d/%d contacts, %d/%d appointments copied, %d queued, %d dead letters",
					now.Sub(g.started).Round(time.Second), c.created, contacts, a.created, appointments, c.queued, c.dead)
			}
			lastStatus = now
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("the initial sync did not finish in time: %d/%d contacts and %d/%d appointments copied, %d queued, %d dead letters (%w)",
				c.created, contacts, a.created, appointments, c.queued, c.dead, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (g *gatewayRun) stop() { g.proc.stop() }

// statusEvery is how long to wait between two status reads (see
// waitSynced): a tenth of the time so far, between 200 ms and 10 s.
func statusEvery(elapsed time.Duration) time.Duration {
	return min(max(elapsed/10, 200*time.Millisecond), 10*time.Second)
}
