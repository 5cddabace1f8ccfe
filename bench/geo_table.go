package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes r as an aligned text table: one row per case, then the
// checks, CPU, memory and update figures.
func (r GeoResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "geo: %d trucks at random positions in lat %.2f–%.2f, lon %.2f–%.2f; radius %g m, limit %d; %d connections, %.1f s per case; %d CPUs\n",
		r.Objects, geoLatMin, geoLatMax, geoLonMin, geoLonMax, r.RadiusM, r.Limit, r.Conns, r.Duration, r.CPUs)
	redis := "Redis skipped"
	if r.RedisVersion != "" {
		redis = fmt.Sprintf("Redis %s loaded in %.1f s", r.RedisVersion, r.RedisLoadSeconds)
	}
	idle := "idle"
	if !r.Settled {
		idle = "NOT idle"
	}
	fmt.Fprintf(w, "setup (not measured): store loaded in %.1f s (%d batches, no fsync, %s on disk); %s; %s after %.1f s\n",
		r.LoadSeconds, r.LoadBatches, mb(int64(r.StateDiskBytes)), redis, idle, r.SettleSeconds)
	ck := r.Checks
	fmt.Fprintf(w, "checks: %d centres, the API's %d trucks equal a brute-force scan", ck.Centers, ck.Trucks)
	if r.RedisVersion != "" {
		fmt.Fprintf(w, "; Redis's %d agree (%d differ at the edge, within Redis's precision)", ck.RedisTrucks, ck.RedisBoundary)
	}
	fmt.Fprintf(w, "; %d point lookups exact\n\n", ck.Points)

	const row = "%-44s %11s %9s %9s %9s %16s %14s %12s\n"
	fmt.Fprintf(w, row, "case", "requests/s", "p50 µs", "p99 µs", "p99.9 µs", "server CPU µs/q", "ratio/ceiling", "ratio/Redis")
	ratio := func(v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, c := range r.Cases {
		cpu := "—"
		if c.ServerCPU != "" {
			cpu = fmt.Sprintf("%.1f", c.ServerCPUUs)
		}
		fmt.Fprintf(w, row, c.Label, fmt.Sprintf("%.0f", c.Rate), lat(c.P50Us), lat(c.P99Us), lat(c.P999Us),
			cpu, ratio(c.RatioCeiling), ratio(c.RatioRedis))
	}
	fmt.Fprintln(w)

	var lags, lg, split []string
	for _, c := range r.Cases {
		name, _, _ := strings.Cut(c.Label, " ")
		if c.Mode == "open" {
			lags = append(lags, fmt.Sprintf("%s %s µs", name, lat(c.SendLagP99Us)))
		}
		if c.HandlerP99Us > 0 {
			split = append(split, fmt.Sprintf("%s %s/%s µs before, %s/%s µs in", name,
				lat(c.BeforeHandlerP50Us), lat(c.BeforeHandlerP99Us), lat(c.HandlerP50Us), lat(c.HandlerP99Us)))
		}
		lg = append(lg, fmt.Sprintf("%s %.1f", name, c.LoadGenCPUUs))
	}
	if len(lags) > 0 {
		slices := "the generator's threads run with the default time slice (short slices not available)"
		if n := 0; len(r.Cases) > 0 {
			for _, c := range r.Cases {
				n = max(n, c.LoadGenShortSlices)
			}
			if n > 0 {
				slices = fmt.Sprintf("the generator's %d threads run with %s time slices", n, loadGenSlice)
			}
		}
		fmt.Fprintf(w, "open loop: latency counted from each request's due time; p99 of how late the generator sent: %s; %s\n", strings.Join(lags, ", "), slices)
	}
	if len(split) > 0 {
		fmt.Fprintf(w, "server side (open loop, p50/p99): from the generator's send to the handler's start, and in the handler: %s\n", strings.Join(split, "; "))
	}
	fmt.Fprintf(w, "server CPU: the bench process's getrusage per request (the load generator is a child process: its CPU µs/request %s); Redis: /proc/<pid>/stat; — with updates (the process also runs ingest; see the updates line)\n",
		strings.Join(lg, ", "))
	if radius, redis := r.find("radius"), r.find("redis"); radius != nil && redis != nil && radius.ServerCPUUs > 0 {
		fmt.Fprintf(w, "radius query CPU: porttrack %.1f µs, Redis %.1f µs: Redis/porttrack %.2f×\n",
			radius.ServerCPUUs, redis.ServerCPUUs, redis.ServerCPUUs/radius.ServerCPUUs)
	}
	m := r.Memory
	fmt.Fprintf(w, "memory after loading: RSS %+.1f MB = %.1f B/object: Go (index, store) %.1f B/object, C (Pebble block cache, memtables) %.1f B/object; block cache capacity %d MiB\n",
		(float64(m.RSSAfter)-float64(m.RSSBefore))/1e6, m.RSSPerObject, m.GoPerObject, m.NonGoPerObject, m.CacheBytes>>20)
	beyond := "— (less than the cache capacity: the cache is not full)"
	if m.RSSAfterQueriesMinusCachePerObject > 0 {
		beyond = fmt.Sprintf("%.1f B/object", m.RSSAfterQueriesMinusCachePerObject)
	}
	fmt.Fprintf(w, "memory after the queries: RSS %.1f B/object since before loading; beyond the whole block cache capacity: %s\n",
		m.RSSAfterQueriesPerObject, beyond)
	if r.RedisVersion != "" {
		fmt.Fprintf(w, "Redis memory: used_memory_rss %.1f B/object, used_memory %.1f B/object\n", m.RedisRSSPerObject, m.RedisUsedPerObject)
	}
	if u := r.Updates; u != nil {
		var ws []string
		for _, uw := range u.Windows {
			c := r.find(uw.Case)
			name := uw.Case
			if c != nil {
				name, _, _ = strings.Cut(c.Label, " ")
			}
			ws = append(ws, fmt.Sprintf("%s produced %.0f/s, consumed %.0f/s, CPU: porttrack %.2f cores, feed %.2f cores", name, uw.Produced, uw.Consumed, uw.ProcessCPUCores, uw.FeedCPUCores))
		}
		prio := "the bench's priority"
		if u.FeedNice > 0 {
			prio = fmt.Sprintf("nice %d", u.FeedNice)
		}
		fmt.Fprintf(w, "updates: target %.0f/s into %d partitions of port.transport, broker and producer in a child process at %s: %s; backlog at the end %d records\n",
			u.TargetRate, r.Partitions, prio, strings.Join(ws, "; "), u.Backlog)
	}
}

func (r GeoResult) find(name string) *GeoCase {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// lat formats a latency in µs: one decimal below 100 µs.
func lat(us float64) string {
	if us < 100 {
		return fmt.Sprintf("%.1f", us)
	}
	return fmt.Sprintf("%.0f", us)
}
