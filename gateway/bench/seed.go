package bench

import (
	"context"
	"fmt"
	"sync"
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
	var firstErr firstError
	var wg sync.WaitGroup
	for range seedWorkers {
		wg.Go(func() {
			for i := range jobs {
				if firstErr.get() != nil {
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
					firstErr.set(fmt.Errorf("seed the CRM: %w", err))
				}
			}
		})
	}
	for i := range contacts + appointments {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return firstErr.get()
}

// firstError keeps the first error of many workers.
type firstError struct {
	mu  sync.Mutex
	err error
}

// set keeps err if it is the first, and says whether it was.
func (f *firstError) set(err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return false
	}
	f.err = err
	return true
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
