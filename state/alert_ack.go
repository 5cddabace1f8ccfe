package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// Alert acknowledgements: a dispatcher marks an alert (connection or
// geofence, by its id) as seen, and every other dispatcher sees who did and
// when. Control-plane records, each written in its own small batch.
//
//	key   0x90 | alert id
//	value 0x01 (version) | str tenant | str key id | str by | at varint

// MaxAlertIDLen bounds an alert id (alerts' ids are 32 hex digits).
const MaxAlertIDLen = 128

// MaxAckByLen bounds the name of who acknowledged.
const MaxAckByLen = 128

// AlertAck is an alert's acknowledgement.
type AlertAck struct {
	Alert  string
	Tenant string // the tenant of the key that acknowledged
	KeyID  string // its key id ("" on the open API)
	By     string // the name the dispatcher gave, else the tenant
	At     int64  // Unix ns
}

// ErrBadAlertID is returned for an alert id that is empty, too long or not
// printable UTF-8.
var ErrBadAlertID = errors.New("state: alert id: 1 to 128 bytes of UTF-8 without control characters")

func checkAckField(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func alertAckKey(id string) []byte { return append([]byte{prefixAlertAck}, id...) }

// AckAlert records a's acknowledgement unless the alert has one already,
// and returns the acknowledgement that stands (the first) and whether it is
// a's. Two dispatchers acknowledging at the same moment may both be told
// theirs stands; the record keeps one of them.
func (s *Store) AckAlert(a AlertAck) (AlertAck, bool, error) {
	if a.Alert == "" || !checkAckField(a.Alert, MaxAlertIDLen) {
		return a, false, ErrBadAlertID
	}
	if !checkAckField(a.By, MaxAckByLen) || !checkAckField(a.Tenant, MaxAckByLen) || !checkAckField(a.KeyID, MaxAckByLen) {
		return a, false, fmt.Errorf("state: alert acknowledgement: by, tenant and key id are at most %d bytes of UTF-8 without control characters", MaxAckByLen)
	}
	if s.closed.Load() {
		return a, false, ErrClosed
	}
	if old, err := s.alertAck(a.Alert); err == nil {
		return old, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return a, false, err
	}
	v := []byte{valueV1}
	v = appendStr(v, a.Tenant)
	v = appendStr(v, a.KeyID)
	v = appendStr(v, a.By)
	v = binary.AppendVarint(v, a.At)
	if err := s.db.Set(alertAckKey(a.Alert), v, s.writeO); err != nil {
		return a, false, fmt.Errorf("state: write alert acknowledgement: %w", err)
	}
	return a, true, nil
}

func (s *Store) alertAck(id string) (AlertAck, error) {
	a := AlertAck{Alert: id}
	v, closer, err := s.db.Get(alertAckKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, err
	}
	defer closer.Close()
	r := reader{b: v}
	if r.byte() != valueV1 {
		return a, errCorrupt
	}
	a.Tenant, a.KeyID, a.By = r.str(), r.str(), r.str()
	a.At = r.varint()
	if r.err != nil {
		return a, errCorrupt
	}
	return a, nil
}

// AlertAcks calls fn with the acknowledgement of each of ids that has one,
// in the order of ids.
func (s *Store) AlertAcks(ids []string, fn func(*AlertAck) bool) error {
	for _, id := range ids {
		if id == "" || !checkAckField(id, MaxAlertIDLen) {
			continue
		}
		a, err := s.alertAck(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !fn(&a) {
			return nil
		}
	}
	return nil
}
