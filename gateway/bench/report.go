package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Print writes the report as a plain table per part; a part that did not
// finish is left out.
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "syncgate bench on %s\n", r.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Initial.Items > 0 {
		r.printInitial(tw)
	}
	if r.Bare.Wall > 0 {
		r.printBare(tw)
	}
	if len(r.Latency) > 0 {
		r.printLatency(tw)
	}
	if r.Idle.Window > 0 {
		r.printIdle(tw)
	}
	return tw.Flush()
}

func (r *Report) printInitial(tw *tabwriter.Writer) {
	o, in := r.Opts, r.Initial
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "1. Initial sync, CRM → mailbox: %d contacts + %d appointments over %d bindings\n", o.Contacts, o.Appointments, o.Bindings)
	eps := slices.Sorted(maps.Keys(in.PluginPeak))
	fmt.Fprintf(tw, "  wall time\titems/s\trequests/s (Graph + CRM)\tpeak RSS: gateway")
	for _, ep := range eps {
		fmt.Fprintf(tw, "\tplugin %s", ep)
	}
	fmt.Fprintf(tw, "\n  %s\t%.0f\t%.0f (%d + %d)\t%s", secs(in.Wall), rate(in.Items, in.Wall),
		rate(in.Reqs.graph+in.Reqs.crm, in.Wall), in.Reqs.graph, in.Reqs.crm, mib(in.GatewayPeak))
	for _, ep := range eps {
		fmt.Fprintf(tw, "\t%s", mib(in.PluginPeak[ep]))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "  throttled (429) answers: Graph %d, CRM %d; dead letters: %d; conflicts: %d; quiet (own writes' echoes digested) after %s\n",
		in.Reqs.graphThrottled, in.Reqs.crmThrottled, in.DeadLetters, in.Conflicts, secs(in.Quiet))
	tw.Flush()
}

func (r *Report) printBare(tw *tabwriter.Writer) {
	in, b := r.Initial, r.Bare
	fmt.Fprintf(tw, "\n2. Bare copier, the same copy: no gateway, no plugins, no sync table\n")
	fmt.Fprintf(tw, "  wall time\titems/s\trequests/s (Graph + CRM)\tsyncgate / bare copier\n")
	ratio := "-"
	if in.Items > 0 {
		ratio = fmt.Sprintf("%.1f× the wall time", float64(in.Wall)/float64(b.Wall))
	}
	fmt.Fprintf(tw, "  %s\t%.0f\t%.0f (%d + %d)\t%s\n", secs(b.Wall), rate(b.Items, b.Wall),
		rate(b.Reqs.graph+b.Reqs.crm, b.Wall), b.Reqs.graph, b.Reqs.crm, ratio)
	tw.Flush()
}

func (r *Report) printLatency(tw *tabwriter.Writer) {
	fmt.Fprintf(tw, "\n3. Change latency: %d single contact edits each way, edit returned → readable on the other side\n", r.Opts.Edits)
	fmt.Fprintf(tw, "  direction\tvia\tp50\tp95\tp99\tlost\t429 answers\n")
	for _, l := range r.Latency {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\n", l.Direction, l.Via, ms(l.P50), ms(l.P95), ms(l.P99), l.Lost, l.Throttled)
	}
	tw.Flush()
}

func (r *Report) printIdle(tw *tabwriter.Writer) {
	id := r.Idle
	fmt.Fprintf(tw, "\n4. Idle scale: %d bindings from a bindings file, nothing changing for %s\n", id.Bindings, secs(id.Window))
	fmt.Fprintf(tw, "  gateway RSS (peak)\tgateway CPU\tGraph requests/s\tCRM requests/s\tsettled after\n")
	fmt.Fprintf(tw, "  %s (%s)\t%.1f%% of a core\t%.2f\t%.2f\t%s\n", mib(id.GatewayRSS), mib(id.GatewayPeak),
		100*id.CPUShare, id.GraphRate, id.CRMRate, secs(id.Settle))
	tw.Flush()
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
