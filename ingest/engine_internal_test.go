package ingest

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestIsControlRecord(t *testing.T) {
	for _, c := range []struct {
		key, value []byte
		want       bool
	}{
		{[]byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 3}, true},  // commit marker
		{[]byte{0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 3}, true},  // abort marker
		{[]byte{0, 0, 0, 2}, []byte{0, 0, 0, 0, 0, 3}, false}, // unknown type
		{[]byte("CSQU3054383"), []byte{0, 0, 0, 0, 0, 3}, false},
		{[]byte{0, 0, 0, 1}, []byte(`{"a":1}`), false},
	} {
		if got := isControlRecord(&kafka.Message{Key: c.key, Value: c.value}); got != c.want {
			t.Errorf("isControlRecord(%x, %x) = %v", c.key, c.value, got)
		}
	}
}
