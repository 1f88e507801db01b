package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// crmPageSize is the change-tracking page size of the CRM connector's
// default (page_size = 500), which the bare copier reads with too.
const crmPageSize = 500

// copyItem is one CRM row on its way to its owner's mailbox.
type copyItem struct {
	mailbox string
	path    string // Graph collection under /users/{u}
	body    map[string]any
}

// bareCopy is the baseline: it reads every contact and appointment from
// the Dataverse emulator with change tracking (the feed syncgate reads),
// with every column it needs in the same request, and writes each to its
// owner's mailbox in the Graph emulator, at most 4 requests in flight per
// mailbox as Graph allows. No gateway, no plugins, no sync table: what
// copying costs when nothing is remembered. It returns the items written.
func bareCopy(ctx context.Context, b *backends) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan copyItem, 1024)
	var firstErr firstError
	fail := func(err error) {
		if firstErr.set(err) {
			cancel()
		}
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		err := readTracked(ctx, b, "contacts", "contactid,firstname,lastname,jobtitle,emailaddress1,_ownerid_value", func(row map[string]any) {
			body := map[string]any{"givenName": row["firstname"], "surname": row["lastname"], "jobTitle": row["jobtitle"]}
			if e, _ := row["emailaddress1"].(string); e != "" {
				body["emailAddresses"] = []map[string]any{{"address": e}}
			}
			if mb := b.owners[str(row["_ownerid_value"])]; mb != "" {
				items <- copyItem{mailbox: mb, path: "/contacts", body: body}
			}
		})
		if err != nil {
			fail(err)
		}
	})
	readers.Go(func() {
		err := readTracked(ctx, b, "appointments", "activityid,subject,location,scheduledstart,scheduledend,seriesid,_ownerid_value", func(row map[string]any) {
			if row["_seriesid_value"] != nil || row["seriesid"] != nil {
				return // an occurrence of a series
			}
			body := map[string]any{
				"subject":  row["subject"],
				"start":    graphTime(str(row["scheduledstart"])),
				"end":      graphTime(str(row["scheduledend"])),
				"location": map[string]any{"displayName": row["location"]},
			}
			if mb := b.owners[str(row["_ownerid_value"])]; mb != "" {
				items <- copyItem{mailbox: mb, path: "/events", body: body}
			}
		})
		if err != nil {
			fail(err)
		}
	})
	go func() { readers.Wait(); close(items) }()

	var written atomic.Int64
	var writers sync.WaitGroup
	for range 4 * len(b.users) {
		writers.Go(func() {
			for it := range items {
				if ctx.Err() != nil {
					continue
				}
				if err := b.graph.do(ctx, it.mailbox, "POST", "/users/"+it.mailbox+it.path, nil, it.body, nil); err != nil {
					fail(fmt.Errorf("bare copier: %w", err))
					continue
				}
				written.Add(1)
			}
		})
	}
	writers.Wait()
	return int(written.Load()), firstErr.get()
}

// readTracked reads a table's change-tracking round to its delta link,
// as the application user, and hands each row to fn.
func readTracked(ctx context.Context, b *backends, set, sel string, fn func(map[string]any)) error {
	next := "/" + set + "?$select=" + sel
	hdr := map[string]string{"Prefer": fmt.Sprintf("odata.track-changes,odata.maxpagesize=%d", crmPageSize)}
	for next != "" {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := b.crm.do(ctx, "", "GET", next, hdr, nil, &page); err != nil {
			return fmt.Errorf("bare copier: read %s: %w", set, err)
		}
		for _, row := range page.Value {
			fn(row)
		}
		next = page.NextLink
	}
	return nil
}

// graphTime turns a Dataverse UTC time into Graph's dateTimeTimeZone.
func graphTime(s string) map[string]any {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return map[string]any{"dateTime": strings.TrimSuffix(s, "Z"), "timeZone": "UTC"}
	}
	return map[string]any{"dateTime": t.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
