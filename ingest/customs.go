package ingest

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/porttrack/porttrack/ingest/customs"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
)

// customsDecoder turns port.customs records into customs documents. The
// decoder is stateless, so partitions share one.
type customsDecoder struct {
	dec *customs.Decoder
	m   *customsMetrics
}

func (d customsDecoder) decode(b *state.Batch, msg *fetch.Record) error {
	n := len(b.Customs)
	var err error
	b.Customs, err = d.dec.Decode(b.Customs, msg.Value)
	if err != nil {
		return err
	}
	for i := n; i < len(b.Customs); i++ {
		d.m.count(b.Customs[i].Type)
	}
	return nil
}

// customsTypes are the label values of porttrack_customs_documents_total.
var customsTypes = []state.CustomsType{state.CEB311, state.CEB411, state.CEB511, state.CEB621, state.CEB622, state.CustomsContainer}

type customsMetrics struct {
	docs    [6]atomic.Uint64 // by customsTypes index
	expired atomic.Uint64    // results written by the deadline tick
}

func (m *customsMetrics) count(t state.CustomsType) {
	for i, ct := range customsTypes {
		if ct == t {
			m.docs[i].Add(1)
			return
		}
	}
}

func (m *customsMetrics) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP porttrack_customs_documents_total Customs documents decoded from the customs topic, by message type.\n# TYPE porttrack_customs_documents_total counter\n")
	for i, t := range customsTypes {
		fmt.Fprintf(w, "porttrack_customs_documents_total{type=%q} %d\n", t, m.docs[i].Load())
	}
	fmt.Fprintf(w, "# HELP porttrack_customs_expiry_results_total Customs results published by the incomplete-order deadline tick.\n# TYPE porttrack_customs_expiry_results_total counter\nporttrack_customs_expiry_results_total %d\n", m.expired.Load())
}

// Deadlines is what the engine's tick asks of the state: report the
// customs orders whose wait for documents ran out, in a transaction of its
// own, returning the number of results written to the outbox.
type Deadlines interface {
	Expire() (int, error)
}

// tickCustoms reports orders whose wait for documents ran out while no
// record arrived (Apply checks the deadlines too).
func (e *Engine) tickCustoms(ctx context.Context) {
	if e.cfg.Deadlines == nil {
		return
	}
	t := time.NewTicker(e.cfg.CustomsTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := e.cfg.Deadlines.Expire()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("customs deadline tick", "err", err)
			}
			continue
		}
		e.metrics.customs.expired.Add(uint64(n))
		e.kickOutbox(n)
	}
}
