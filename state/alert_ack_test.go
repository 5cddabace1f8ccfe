package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestAckAlert: the first acknowledgement stands, survives a reopen and is
// listed; bad ids and names are refused.
func TestAckAlert(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	a, created, err := s.AckAlert(AlertAck{Alert: "a1", Tenant: "port", KeyID: "k1", By: "王调度", At: 100})
	if err != nil || !created || a.By != "王调度" {
		t.Fatalf("first: %+v %v %v", a, created, err)
	}
	a, created, err = s.AckAlert(AlertAck{Alert: "a1", Tenant: "port", By: "later", At: 200})
	if err != nil || created || a.By != "王调度" || a.At != 100 || a.KeyID != "k1" {
		t.Fatalf("second: %+v %v %v", a, created, err)
	}
	if _, _, err := s.AckAlert(AlertAck{Alert: "", By: "x"}); !errors.Is(err, ErrBadAlertID) {
		t.Fatalf("empty id: %v", err)
	}
	if _, _, err := s.AckAlert(AlertAck{Alert: "a2", By: "x\n"}); err == nil {
		t.Fatal("a control character in by was accepted")
	}
	if _, _, err := s.AckAlert(AlertAck{Alert: strings.Repeat("x", MaxAlertIDLen+1)}); !errors.Is(err, ErrBadAlertID) {
		t.Fatalf("long id: %v", err)
	}
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	var got []string
	if err := s.AlertAcks([]string{"a0", "a1", "\x00"}, func(a *AlertAck) bool {
		got = append(got, a.Alert+":"+a.By)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "a1:王调度" {
		t.Fatalf("listed %q", got)
	}
}
