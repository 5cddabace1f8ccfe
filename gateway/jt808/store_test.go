package jt808

import (
	"errors"
	"testing"
)

func TestStoreAuthCodesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.Register("13912345678", "浙b12345 ")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	plate, ok := s2.Authenticate("13912345678", code)
	if !ok || plate != "浙B12345" {
		t.Fatalf("after reopen: %q %v", plate, ok)
	}
	if _, ok := s2.Authenticate("13912345678", code+"x"); ok {
		t.Fatal("a wrong code authenticated")
	}
	again, err := s2.Register("13912345678", "浙B12345")
	if err != nil || again != code {
		t.Fatalf("registering again: %q %v, want the same code %q", again, err, code)
	}
}

func TestStorePlateOfAnotherDeviceRefused(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	if _, err := s.Register("1", "浙B12345"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register("2", "浙B12345"); !errors.Is(err, ErrPlateTaken) {
		t.Fatalf("err %v, want ErrPlateTaken", err)
	}
	if _, err := s.Register("3", "ZJ/B12345"); !errors.Is(err, ErrBadPlate) {
		t.Fatalf("err %v, want ErrBadPlate", err)
	}
}

func TestStoreAllowList(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	old, err := s.Register("1", "浙B12345")
	if err != nil {
		t.Fatal(err)
	}
	// The operator moves the plate to device 2 in the allow-list.
	s, err = OpenStore(dir, map[string]string{"2": "浙B12345", "3": "浙B67890"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register("4", "浙B55555"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("unlisted device: err %v", err)
	}
	if _, err := s.Register("3", "浙B12345"); !errors.Is(err, ErrWrongPlate) {
		t.Fatalf("listed device, another's plate: err %v", err)
	}
	if _, ok := s.Authenticate("1", old); ok {
		t.Fatal("device 1, not in the allow-list, still authenticates")
	}
	if _, err := s.Register("2", "浙B12345"); err != nil {
		t.Fatalf("the listed device takes the plate: %v", err)
	}
	if _, err := OpenStore(dir, map[string]string{"2": "浙B12345", "3": "浙B12345"}); err == nil {
		t.Fatal("one plate for two devices in the allow-list accepted")
	}
	if _, err := OpenStore(dir, map[string]string{"abc": "浙B12345"}); err == nil {
		t.Fatal("a device id that is no phone number accepted")
	}
}

func TestStoreBounded(t *testing.T) {
	s, _ := OpenStore("", nil)
	s.MaxDevices = 2
	for i, plate := range []string{"浙B00001", "浙B00002"} {
		if _, err := s.Register(string(rune('1'+i)), plate); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Register("3", "浙B00003"); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("third device: err %v, want ErrStoreFull", err)
	}
	if _, err := s.Register("1", "浙B00001"); err != nil {
		t.Fatalf("a registered device registers again when full: %v", err)
	}
}
