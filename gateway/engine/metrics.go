package engine

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/sdk"
)

// Metrics are the engine's Prometheus instruments. One set lives for the
// whole process and is handed to every engine a reload builds, so counters
// run on across reloads. Labels are kept to sides, entities, endpoints and
// outcomes: never a binding or an item, which would make one series per
// mailbox. The gateway's state (queue depth, dead letters, plugins) is
// read at scrape time by the admin server's collector.
type Metrics struct {
	collected    *prometheus.CounterVec
	applied      *prometheus.CounterVec
	conflicts    *prometheus.CounterVec
	blocked      *prometheus.CounterVec
	errors       *prometheus.CounterVec
	throttleWait *prometheus.CounterVec
	cycle        *prometheus.HistogramVec
	requests     *prometheus.HistogramVec
}

// NewMetrics creates the instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		collected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_changes_collected_total",
			Help: "Change records stored in the sync table, by the side they came from and entity."}, []string{"side", "entity"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_changes_processed_total",
			Help: "Change records processed, by the side they came from, entity and outcome (created, updated, deleted, untracked, blocked, conflict)."},
			[]string{"side", "entity", "outcome"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_conflicts_total",
			Help: "Items changed on both sides since their last sync, resolved by policy."}, []string{"entity"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_blocked_changes_total",
			Help: "Changes from a side their rule does not allow."}, []string{"entity"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_errors_total",
			Help: "Failed attempts to process a record, by error type."}, []string{"type"}),
		throttleWait: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_throttle_wait_seconds_total",
			Help: "Time a backend asked syncgate to wait (Retry-After), by endpoint."}, []string{"endpoint"}),
		cycle: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "syncgate_collect_duration_seconds",
			Help:    "Duration of one collect of one feed (PrepareSync to PostSync), by endpoint and feed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"endpoint", "feed"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "syncgate_connector_call_duration_seconds",
			Help:    "Duration of calls to a connector (and through it, its backend), by endpoint, call and result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"endpoint", "call", "result"}),
	}
	reg.MustRegister(m.collected, m.applied, m.conflicts, m.blocked, m.errors, m.throttleWait, m.cycle, m.requests)
	return m
}

// errorType names an error for the errors_total label: the connector's
// typed kind, or "unavailable" for a plugin that is down or hung.
func errorType(err error) string {
	var te *sdk.Error
	if errors.As(err, &te) {
		return te.Kind.String()
	}
	return "unavailable"
}

// result names a call's outcome for the call-duration label.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	return errorType(err)
}
