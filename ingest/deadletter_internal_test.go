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

// TestDeadLetterKeyTruncated: the fetch cuts a key over max_record_bytes
// to the prefix; the dead letter says so with key-truncated.
func TestDeadLetterKeyTruncated(t *testing.T) {
	for _, tc := range []struct {
		rec  fetch.Record
		want bool
	}{
		{fetch.Record{Key: []byte("0123456789"), KeyTruncated: true, KeySize: 500, Oversize: true, Value: []byte("v"), Size: 1}, true},
		{fetch.Record{Key: []byte("0123456789"), KeySize: 10, Value: []byte("v"), Size: 1}, false},
	} {
		dl := deadLetter("porttrack.dlq", tp{topic: "port.rfid"}, &tc.rec, errors.New("bad"), 10)
		got := false
		for _, h := range dl.Headers {
			got = got || h.Key == HeaderKeyTruncated && string(h.Value) == "true"
		}
		if got != tc.want || string(dl.Key) != "0123456789" {
			t.Errorf("key-truncated %v, want %v; key %q", got, tc.want, dl.Key)
		}
	}
}
