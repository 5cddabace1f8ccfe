package customs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Order appends the stored order record (JSON, see OrderRecord) to dst,
// read live.
func (c *Customs) Order(dst []byte, ebpCode, orderNo string) ([]byte, error) {
	if ebpCode == "" || orderNo == "" || strings.IndexByte(ebpCode, 0) >= 0 || strings.IndexByte(orderNo, 0) >= 0 {
		return dst, state.ErrNotFound
	}
	v, closer, err := c.store.Live().Get(pairKey(state.PrefixOrder, ebpCode, orderNo))
	if errors.Is(err, pebble.ErrNotFound) {
		return dst, state.ErrNotFound
	}
	if err != nil {
		return dst, err
	}
	defer closer.Close()
	if len(v) == 0 || v[0] != 0x01 {
		return dst, fmt.Errorf("state: order %s/%s: %w", ebpCode, orderNo, state.ErrCorrupt)
	}
	return append(dst, v[1:]...), nil
}

// OrderListQuery selects orders by result, reason code or customs status.
// The first non-empty of Result, Reason, Status picks the index; the others
// filter through Match.
type OrderListQuery struct {
	Result, Reason, Status string
	Cursor                 string
	Limit                  int
}

// Orders calls fn with the summary JSON (OrderSummary) of each selected
// order, in (ebpCode, orderNo) order within the index, and returns the
// cursor of the next page. keep, if not nil, filters on the summary. Read
// live.
func (c *Customs) Orders(q OrderListQuery, keep func(summary []byte) bool, fn func(summary []byte) error) (string, error) {
	if q.Limit <= 0 {
		return "", errors.New("state: limit must be positive")
	}
	var prefix []byte
	switch {
	case q.Result != "":
		prefix = append([]byte{state.PrefixOrderIdx, orderIdxResult}, q.Result...)
		prefix = append(prefix, 0)
	case q.Reason != "":
		prefix = append([]byte{state.PrefixOrderIdx, orderIdxReason}, q.Reason...)
		prefix = append(prefix, 0)
	case q.Status != "":
		prefix = append([]byte{state.PrefixOrderIdx, orderIdxStatus}, q.Status...)
		prefix = append(prefix, 0)
	default:
		prefix = []byte{state.PrefixOrderIdx, orderIdxResult}
	}
	upper := append([]byte(nil), prefix...)
	upper[len(upper)-1]++
	lower := prefix
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(raw) < len(prefix) || string(raw[:len(prefix)]) != string(prefix) {
			return "", state.ErrBadCursor
		}
		lower = append(raw, 0)
	}
	it, err := c.store.Live().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return "", err
	}
	defer it.Close()
	n := 0
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		if keep != nil && !keep(it.Value()) {
			continue
		}
		if n == q.Limit {
			return base64.RawURLEncoding.EncodeToString(last), nil
		}
		if err := fn(it.Value()); err != nil {
			return "", err
		}
		last = append(last[:0], it.Key()...)
		n++
	}
	return "", it.Error()
}
