// Command misbehave is a connector for the plugin host's tests. It stores
// created items in the host's key-value store (so the broker is exercised)
// and, by its "mode" setting, hangs in Fetch or exits soon after Configure.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

//go:embed connector.hcl
var manifest []byte

type connector struct {
	mode string
	kv   sdk.KV
}

func (c *connector) Manifest() []byte { return manifest }

func (c *connector) Configure(_ context.Context, env sdk.Env, cfg sdk.Fields) sdk.Diagnostics {
	c.mode, c.kv = cfg["mode"].Str(), env.KV
	if marker, ok := strings.CutPrefix(c.mode, "crash_once:"); ok {
		// Die during the first Configure ever, as a connector whose
		// backend was not up yet might; start normally after that.
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o600)
			os.Exit(1)
		}
		c.mode = "ok"
	}
	switch c.mode {
	case "ok", "hang_fetch":
	case "exit_soon":
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(7) }()
	case "refuse":
		return sdk.Diagnostics{sdk.Errorf([]string{"mode"}, "refused", "this connector refuses mode %q", c.mode)}
	default:
		return sdk.Diagnostics{sdk.Errorf([]string{"mode"}, "unknown mode", "got %q", c.mode)}
	}
	env.Logger.Info("configured", "mode", c.mode)
	return nil
}

func (c *connector) Check(context.Context, []string) (sdk.CheckResult, error) {
	return sdk.CheckResult{}, nil
}

func (c *connector) PrepareSync(context.Context, sdk.Feed, sdk.Cursor) (sdk.Pending, error) {
	return sdk.Pending{Kind: sdk.PendingCount}, nil
}

func (c *connector) GetSyncData(context.Context, sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	return sdk.SyncDataPage{}, sdk.NewError(sdk.ErrResyncRequired, "this connector forgets everything")
}

func (c *connector) PostSync(context.Context, sdk.Feed, sdk.Cursor) error { return nil }

func (c *connector) Fetch(ctx context.Context, _, entity string, ids []string) ([]sdk.FetchResult, error) {
	if c.mode == "hang_fetch" {
		time.Sleep(time.Hour)
	}
	var out []sdk.FetchResult
	for _, id := range ids {
		raw, ok, err := c.kv.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, sdk.FetchResult{ID: id, Err: sdk.NewError(sdk.ErrNotFound, "no item %s", id)})
			continue
		}
		var f sdk.Fields
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, err
		}
		out = append(out, sdk.FetchResult{ID: id, Record: &sdk.Record{Entity: entity, ID: id, Version: "1", Fields: f}})
	}
	return out, nil
}

func (c *connector) Apply(ctx context.Context, _, _ string, ops []sdk.Op) ([]sdk.OpResult, error) {
	var out []sdk.OpResult
	for _, op := range ops {
		raw, err := json.Marshal(op.Fields)
		if err != nil {
			return nil, err
		}
		if err := c.kv.Put(ctx, op.CorrelationKey, raw); err != nil {
			return nil, err
		}
		out = append(out, sdk.OpResult{ID: op.CorrelationKey, Version: "1"})
	}
	return out, nil
}

func (c *connector) Stop(ctx context.Context) error {
	return c.kv.Put(ctx, "stopped", []byte("yes"))
}

func main() { sdk.Serve(&connector{}) }
