package query

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// bucketBounds are the upper bounds of the request latency histogram, in
// seconds: fine below a millisecond, where porttrack's answers should be.
var bucketBounds = [...]float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2}

type histogram struct {
	buckets [len(bucketBounds)]atomic.Uint64 // non-cumulative counts
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

type routeHistograms struct {
	routes  []string
	byRoute map[string]*histogram // fixed at construction: read without locks
}

func newRouteHistograms(routes []string) *routeHistograms {
	h := &routeHistograms{routes: routes, byRoute: make(map[string]*histogram, len(routes))}
	for _, r := range routes {
		h.byRoute[r] = new(histogram)
	}
	return h
}

func (h *routeHistograms) observe(route string, d time.Duration) {
	hg := h.byRoute[route]
	sec := d.Seconds()
	for i, b := range bucketBounds {
		if sec <= b {
			hg.buckets[i].Add(1)
			break
		}
	}
	hg.count.Add(1)
	hg.sumNs.Add(uint64(d))
}

func (h *routeHistograms) write(w io.Writer) {
	const name = "porttrack_http_request_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Time to answer HTTP requests, by route.\n# TYPE %s histogram\n", name, name)
	for _, r := range h.routes {
		hg := h.byRoute[r]
		var cum uint64
		for i, b := range bucketBounds {
			cum += hg.buckets[i].Load()
			fmt.Fprintf(w, "%s_bucket{route=%q,le=\"%g\"} %d\n", name, r, b, cum)
		}
		n := hg.count.Load()
		fmt.Fprintf(w, "%s_bucket{route=%q,le=\"+Inf\"} %d\n", name, r, n)
		fmt.Fprintf(w, "%s_sum{route=%q} %g\n", name, r, float64(hg.sumNs.Load())/1e9)
		fmt.Fprintf(w, "%s_count{route=%q} %d\n", name, r, n)
	}
}
