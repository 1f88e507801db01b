package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// BenchmarkSync syncs 2,000 contacts (half from the CRM, half from alice's
// mailbox) through in-process connectors over the real protocol, from cold
// to quiescence.
func BenchmarkSync(b *testing.B) {
	const items = 2000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := newWorld(b, twoWayContacts)
		for k := 0; k < items; k++ {
			side := w.crm
			if k%2 == 1 {
				side = w.mail
			}
			side.Create(alice, "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("b-%05d", k))})
		}
		b.StartTimer()
		start := time.Now()
		w.sync()
		b.ReportMetric(float64(items)/time.Since(start).Seconds(), "items/s")
	}
}
