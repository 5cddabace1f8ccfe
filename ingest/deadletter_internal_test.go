package ingest

import (
	"errors"
	"testing"

	"github.com/porttrack/porttrack/ingest/fetch"
)

// TestDeadLetterCountsHeaderFraming: headers with an empty key and a null
// value count their framing toward the dead letter's limit, so a record of
// many of them yields a dead letter of a bounded number of headers, marked
// headers-truncated.
func TestDeadLetterCountsHeaderFraming(t *testing.T) {
	const limit = 1 << 10
	rec := &fetch.Record{Offset: 7, Key: []byte("k"), Value: []byte("v"), Size: 1, Headers: make([]fetch.Header, 100_000)}
	dl := deadLetter("porttrack.dlq", tp{topic: "port.rfid", partition: 0}, rec, errors.New("bad"), limit)
	kept := 0
	truncated := false
	for _, h := range dl.Headers {
		switch h.Key {
		case "":
			kept++
		case HeaderHeadersTruncated:
			truncated = true
		}
	}
	if kept > limit/2 || !truncated {
		t.Errorf("dead letter kept %d of %d empty headers (limit %d bytes), headers-truncated %v", kept, len(rec.Headers), limit, truncated)
	}
}
