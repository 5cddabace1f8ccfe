package jt808

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/porttrack/porttrack/state"
)

// StoreFile is the name of the registrations file in the data directory.
const StoreFile = "jt808-registrations.json"

// Registration refusals, mapped to 0x8100 results by the server.
var (
	ErrNotAllowed = errors.New("jt808: device is not in the allow-list")
	ErrWrongPlate = errors.New("jt808: the allow-list binds the device to another plate")
	ErrPlateTaken = errors.New("jt808: the plate is bound to another device")
	ErrBadPlate   = errors.New("jt808: not a plate")
	ErrStoreFull  = errors.New("jt808: the registrations store is full")
)

// DefaultMaxDevices bounds the registrations (memory and the file) when
// Store.MaxDevices is 0: without an allow-list anyone may register.
const DefaultMaxDevices = 200000

// Binding is one registered device.
type Binding struct {
	Plate string `json:"plate"`
	Auth  string `json:"auth"`
}

// Store holds the registrations (device id → plate and auth code) in
// memory and in dir/StoreFile, written whole (temporary file, fsync,
// rename) at every change, so that auth codes survive restarts. Safe for
// concurrent use.
type Store struct {
	// MaxDevices bounds the registered devices; 0 means DefaultMaxDevices.
	// Set it before the store is used.
	MaxDevices int
	path       string
	allow      map[string]string // device → plate; nil: any device may register
	mu         struct {
		sync.Mutex
		devices map[string]Binding
		plates  map[string]string // plate → device
	}
}

// OpenStore loads dir/StoreFile ("" dir: memory only). allow, when not
// nil, is the allow-list: only its devices may register, each with its
// plate, and an entry for a plate bound to another device moves the plate
// to the listed device (the operator's change).
func OpenStore(dir string, allow map[string]string) (*Store, error) {
	s := &Store{}
	s.mu.devices = map[string]Binding{}
	s.mu.plates = map[string]string{}
	if allow != nil {
		s.allow = make(map[string]string, len(allow))
		owner := make(map[string]string, len(allow))
		for d, p := range allow {
			if d == "" || strings.Trim(d, "0123456789") != "" || len(d) > 20 {
				return nil, fmt.Errorf("allow-list device %q: want the terminal phone number, up to 20 digits", d)
			}
			pl, err := state.ParsePlate(p)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: plate %q: %v", d, p, err)
			}
			if o, dup := owner[pl]; dup {
				return nil, fmt.Errorf("allow-list binds plate %s to devices %s and %s: one plate, one device", pl, o, d)
			}
			owner[pl] = d
			s.allow[DeviceID(d)] = pl
		}
	}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, StoreFile)
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	} else if err != nil {
		return nil, fmt.Errorf("cannot read registrations: %w", err)
	}
	if err := json.Unmarshal(b, &s.mu.devices); err != nil {
		return nil, fmt.Errorf("cannot read registrations %s: %w", s.path, err)
	}
	for d, r := range s.mu.devices {
		s.mu.plates[r.Plate] = d
	}
	return s, nil
}

// DeviceID is the terminal phone number without leading zeros, so that
// the 6-byte (2013) and 10-byte (2019) forms of a number are one device.
func DeviceID(phone string) string {
	for len(phone) > 1 && phone[0] == '0' {
		phone = phone[1:]
	}
	return phone
}

// Register binds device to plate and returns its auth code: the code it
// had when it registers again with the same plate.
func (s *Store) Register(device, plate string) (string, error) {
	pl, err := state.ParsePlate(plate)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadPlate, plate, err)
	}
	takeover := false
	if s.allow != nil {
		want, ok := s.allow[device]
		if !ok {
			return "", ErrNotAllowed
		}
		if want != pl {
			return "", ErrWrongPlate
		}
		takeover = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.mu.plates[pl]; ok && other != device {
		if !takeover {
			return "", ErrPlateTaken
		}
		delete(s.mu.devices, other)
	}
	if b, ok := s.mu.devices[device]; ok && b.Plate == pl {
		return b.Auth, nil
	}
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	old, had := s.mu.devices[device]
	maxDevices := s.MaxDevices
	if maxDevices <= 0 {
		maxDevices = DefaultMaxDevices
	}
	if !had && len(s.mu.devices) >= maxDevices {
		return "", ErrStoreFull
	}
	nb := Binding{Plate: pl, Auth: hex.EncodeToString(raw[:])}
	s.mu.devices[device] = nb
	if had {
		delete(s.mu.plates, old.Plate)
	}
	s.mu.plates[pl] = device
	if err := s.saveLocked(); err != nil {
		// Keep memory and file in step: undo.
		delete(s.mu.devices, device)
		delete(s.mu.plates, pl)
		if had {
			s.mu.devices[device] = old
			s.mu.plates[old.Plate] = device
		}
		return "", err
	}
	return nb.Auth, nil
}

// Authenticate returns the plate of device when code is its auth code.
func (s *Store) Authenticate(device, code string) (plate string, ok bool) {
	s.mu.Lock()
	b, found := s.mu.devices[device]
	s.mu.Unlock()
	if !found || b.Auth != code {
		return "", false
	}
	if s.allow != nil && s.allow[device] != b.Plate {
		return "", false // the allow-list changed since the registration
	}
	return b.Plate, true
}

func (s *Store) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.mu.devices, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write registrations: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("cannot write registrations: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write registrations: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write registrations: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("cannot write registrations: %w", err)
	}
	return nil
}
