package admin

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/gateway/store"
)

// NewRegistry returns the registry behind /metrics: the Go runtime's and
// the process's own collectors, and the gateway's state read at scrape time
// from whatever engine and connectors the server currently uses. The
// engine's counters are registered on it by engine.NewMetrics.
func NewRegistry(s *Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), stateCollector{s})
	return reg
}

var (
	queueDesc    = prometheus.NewDesc("syncgate_queue_depth", "Change records waiting in the sync table.", nil, nil)
	retryingDesc = prometheus.NewDesc("syncgate_queue_retrying", "Change records in the sync table waiting for another try.", nil, nil)
	deadDesc     = prometheus.NewDesc("syncgate_dead_letters", "Change records that failed for good, waiting for an operator.", nil, nil)
	bindingsDesc = prometheus.NewDesc("syncgate_bindings", "Configured bindings, by state (active or paused).", []string{"state"}, nil)
	restartsDesc = prometheus.NewDesc("syncgate_plugin_restarts_total", "Restarts of an endpoint's connector process.", []string{"endpoint"}, nil)
	upDesc       = prometheus.NewDesc("syncgate_plugin_up", "1 while an endpoint's connector process runs.", []string{"endpoint"}, nil)
	heldDesc     = prometheus.NewDesc("syncgate_endpoint_held", "1 while an endpoint is held because its connector refused its credentials or configuration.", []string{"endpoint"}, nil)
)

// stateCollector reads the gateway's state when Prometheus scrapes: queue
// and dead letters from the store, plugins from their supervisors.
type stateCollector struct{ s *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, retryingDesc, deadDesc, bindingsDesc, restartsDesc, upDesc, heldDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	eng, sups := c.s.current()
	if eng == nil {
		return
	}
	var queued, retrying, dead int
	eng.DB().View(func(tx *store.Tx) error {
		dead = tx.CountKeys(store.DeadLetterAllPrefix())
		return store.Scan(tx, store.QueueAllPrefix(), func(_ []byte, ch *store.Change) bool {
			queued++
			if ch.Attempts > 0 {
				retrying++
			}
			return true
		})
	})
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(retryingDesc, prometheus.GaugeValue, float64(retrying))
	ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(dead))
	paused := 0
	names := eng.BindingNames()
	for _, b := range names {
		if eng.IsPaused(b) {
			paused++
		}
	}
	ch <- prometheus.MustNewConstMetric(bindingsDesc, prometheus.GaugeValue, float64(len(names)-paused), "active")
	ch <- prometheus.MustNewConstMetric(bindingsDesc, prometheus.GaugeValue, float64(paused), "paused")
	held := eng.HeldEndpoints()
	for name, sup := range sups {
		st := sup.Status()
		up := 0.0
		if st.State == host.StateRunning {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(st.Restarts), name)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, name)
		isHeld := 0.0
		if _, ok := held[name]; ok {
			isHeld = 1
		}
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, isHeld, name)
	}
}

// metricsHandler serves /metrics. It needs no token: Prometheus scrapes it,
// it holds counts and no content, and the listener is loopback by default.
func (s *Server) metricsHandler() http.Handler {
	if s.Registry == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{ErrorLog: nil})
}
