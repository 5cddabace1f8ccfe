package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/porttrack/porttrack/bench/sim"
)

// demoCustomsSim is the demo's e-commerce traffic: most orders match, some
// carry a deliberate mismatch or miss a document, a few records are
// GB2312-encoded or repeated; with boxFlows, also container customs flows
// of its own fleet.
func demoCustomsSim(brokers []string, topic string, rate float64, boxFlows bool, now time.Time, log *slog.Logger) sim.CustomsConfig {
	// About 6.8 records per order (documents, receipts, container flows):
	// orders this far apart keep simulated time with the wall clock. It
	// starts ten minutes back, so that an order whose documents come
	// quicker than the average is not ahead of the wall clock.
	every := time.Duration(6.8 / rate * float64(time.Second))
	c := sim.CustomsConfig{Brokers: brokers, Topic: topic, Rate: rate, Seed: 1, OrderEvery: every,
		Start:        now.UTC().Add(-10 * time.Minute).Truncate(time.Second),
		MismatchRate: 0.1, MissingRate: 0.05, GBKRate: 0.2, DupRate: 0.02, Logger: log}
	if !boxFlows {
		c.BoxEvery = 1 << 30
	}
	return c
}

// printCustomsHints tells how to try the customs side of the demo.
func printCustomsHints(w io.Writer, broker, httpAddr string) {
	fmt.Fprintf(w, `Customs: produce a CEB XML message (one file per record) into port.customs, follow the results:
  kcat -P -b %[1]s -t port.customs -k NB20261122000001 ingest/customs/testdata/ceb311.xml
  kcat -C -b %[1]s -t porttrack.customs-results -o beginning -u -e
  curl -s 'http://%[2]s/v1/orders?result=mismatched&limit=5'
  curl -s http://%[2]s/v1/customs/holds; curl -s 'http://%[2]s/v1/customs/released?picked_up=false&limit=5'
`, broker, httpAddr)
}
