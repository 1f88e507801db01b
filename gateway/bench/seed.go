package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// seedWorkers is how many creates the seeding keeps in flight: enough to
// keep the Dataverse emulator busy on two cores, far below its per-user
// limit.
const seedWorkers = 32

// contactName and appointmentSubject name the seeded items; the latency
// phase finds the mailbox copies by these.
func contactName(i int) string        { return fmt.Sprintf("c%06d", i) }
func appointmentSubject(i int) string { return fmt.Sprintf("a%06d", i) }

// seedCRM creates contacts and appointments in the Dataverse emulator,
// item i owned by users[i % len(users)] (created as that user, so the
// per-user request budgets share the load), appointments spread over the
// coming months at whole half hours.
func seedCRM(ctx context.Context, b *backends, contacts, appointments int) error {
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	jobs := make(chan int)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range seedWorkers {
		wg.Go(func() {
			for i := range jobs {
				if firstErr.Load() != nil {
					continue
				}
				var err error
				if i < contacts {
					err = b.crm.do(ctx, b.userIDs[b.users[i%len(b.users)]], "POST", "/contacts", nil, map[string]any{
						"firstname": "Bench", "lastname": contactName(i), "jobtitle": "seeded",
						"emailaddress1": contactName(i) + "@seed.example",
					}, nil)
				} else {
					k := i - contacts
					at := day.Add(time.Duration(k%200)*24*time.Hour + time.Duration(8*60+30*(k/200%16))*time.Minute)
					err = b.crm.do(ctx, b.userIDs[b.users[k%len(b.users)]], "POST", "/appointments", nil, map[string]any{
						"subject": appointmentSubject(k), "location": "Room 1",
						"scheduledstart": at.Format(time.RFC3339), "scheduledend": at.Add(30 * time.Minute).Format(time.RFC3339),
					}, nil)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("seed the CRM: %w", err))
				}
			}
		})
	}
	for i := range contacts + appointments {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}
