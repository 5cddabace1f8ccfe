package jt808

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ErrBody is wrapped by every body decoding error.
var ErrBody = errors.New("jt808: malformed body")

func bodyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBody}, args...)...)
}

// Register is the body of a terminal registration (0x0100).
type Register struct {
	Province, City uint16
	Maker, Model   string
	TerminalID     string
	PlateColor     byte
	Plate          string // UTF-8 (GBK on the wire); VIN when PlateColor is 0
}

// DecodeRegister decodes a 0x0100 body of the 2013 (v2019 false) or 2019
// layout.
func DecodeRegister(body []byte, v2019 bool) (Register, error) {
	var r Register
	maker, model, id := 5, 20, 7
	if v2019 {
		maker, model, id = 11, 30, 30
	}
	fixed := 4 + maker + model + id + 1
	if len(body) < fixed {
		return r, bodyErr("registration of %d bytes, want at least %d", len(body), fixed)
	}
	r.Province, r.City = be16(body), be16(body[2:])
	p := 4
	r.Maker = trimField(body[p : p+maker])
	p += maker
	r.Model = trimField(body[p : p+model])
	p += model
	r.TerminalID = trimField(body[p : p+id])
	p += id
	r.PlateColor = body[p]
	p++
	plate, err := simplifiedchinese.GBK.NewDecoder().Bytes(body[p:])
	if err != nil {
		return r, bodyErr("plate is not GBK: %v", err)
	}
	r.Plate = strings.TrimSpace(strings.TrimRight(string(plate), "\x00"))
	if r.Plate == "" {
		return r, bodyErr("registration has no plate")
	}
	return r, nil
}

func trimField(b []byte) string {
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00 "))
}

// Registration results of 0x8100.
const (
	RegisterOK            = 0
	RegisterPlateTaken    = 1 // the vehicle is already registered (to another terminal)
	RegisterNoSuchVehicle = 2
	RegisterTerminalTaken = 3
	RegisterNoSuchDevice  = 4
)

// AppendRegisterResponse appends a 0x8100 body.
func AppendRegisterResponse(dst []byte, serial uint16, result byte, auth string) []byte {
	dst = append(dst, byte(serial>>8), byte(serial), result)
	if result == RegisterOK {
		dst = append(dst, auth...)
	}
	return dst
}

// Auth is the body of a terminal authentication (0x0102).
type Auth struct {
	Code     string
	IMEI     string // 2019 only
	Software string // 2019 only
}

// DecodeAuth decodes a 0x0102 body.
func DecodeAuth(body []byte, v2019 bool) (Auth, error) {
	var a Auth
	if !v2019 {
		if len(body) == 0 {
			return a, bodyErr("empty auth code")
		}
		a.Code = string(body)
		return a, nil
	}
	if len(body) < 1 || int(body[0]) == 0 || len(body) < 1+int(body[0])+15+20 {
		return a, bodyErr("2019 authentication of %d bytes is too short", len(body))
	}
	n := int(body[0])
	a.Code = string(body[1 : 1+n])
	a.IMEI = trimField(body[1+n : 1+n+15])
	a.Software = trimField(body[1+n+15 : 1+n+35])
	return a, nil
}

// Results of 0x8001.
const (
	ResultOK          = 0
	ResultFailure     = 1
	ResultBadMessage  = 2
	ResultUnsupported = 3
	ResultAlarmAck    = 4
)

// Response is a general response (0x8001 platform, 0x0001 terminal).
type Response struct {
	Serial uint16
	ID     uint16
	Result byte
}

// AppendResponse appends a general response body.
func AppendResponse(dst []byte, r Response) []byte {
	return append(dst, byte(r.Serial>>8), byte(r.Serial), byte(r.ID>>8), byte(r.ID), r.Result)
}

// DecodeResponse decodes a general response body.
func DecodeResponse(body []byte) (Response, error) {
	if len(body) != 5 {
		return Response{}, bodyErr("general response of %d bytes, want 5", len(body))
	}
	return Response{Serial: be16(body), ID: be16(body[2:]), Result: body[4]}, nil
}

// Alarm bits of 0x0200 that become truck alarms.
const (
	AlarmEmergency = 1 << 0
	AlarmOverspeed = 1 << 1
	AlarmFatigue   = 1 << 2
)

// Status bits of 0x0200.
const (
	StatusLocated = 1 << 1
	StatusSouth   = 1 << 2
	StatusWest    = 1 << 3
)

// Location is the basic information of a location report (0x0200); the
// additional items after it are skipped (checked for framing only).
type Location struct {
	Alarm, Status uint32
	Lat, Lon      float64 // degrees, signed by the status bits
	AltitudeM     int     // metres
	SpeedKmh      float64
	Heading       int // degrees, 0–359
	Time          time.Time
}

// Located reports whether the terminal had a GNSS fix.
func (l *Location) Located() bool { return l.Status&StatusLocated != 0 }

// beijing is UTC+8, the zone of the BCD times.
var beijing = time.FixedZone("UTC+8", 8*3600)

// DecodeLocation decodes a 0x0200 body.
func DecodeLocation(body []byte) (Location, error) {
	var l Location
	if len(body) < 28 {
		return l, bodyErr("location of %d bytes, want at least 28", len(body))
	}
	l.Alarm, l.Status = be32(body), be32(body[4:])
	lat, lon := be32(body[8:]), be32(body[12:])
	if lat > 90_000_000 || lon > 180_000_000 {
		return l, bodyErr("latitude %d or longitude %d out of range", lat, lon)
	}
	l.Lat, l.Lon = float64(lat)/1e6, float64(lon)/1e6
	if l.Status&StatusSouth != 0 {
		l.Lat = -l.Lat
	}
	if l.Status&StatusWest != 0 {
		l.Lon = -l.Lon
	}
	l.AltitudeM = int(int16(be16(body[16:])))
	l.SpeedKmh = float64(be16(body[18:])) / 10
	l.Heading = int(be16(body[20:]))
	if l.Heading > 359 {
		return l, bodyErr("direction %d out of 0–359", l.Heading)
	}
	t, err := decodeBCDTime(body[22:28])
	if err != nil {
		return l, err
	}
	l.Time = t
	for p := 28; p < len(body); {
		if p+2 > len(body) || p+2+int(body[p+1]) > len(body) {
			return l, bodyErr("additional item at byte %d runs past the body", p)
		}
		p += 2 + int(body[p+1])
	}
	return l, nil
}

// decodeBCDTime decodes YYMMDDhhmmss (BCD, UTC+8, years 2000–2099).
func decodeBCDTime(b []byte) (time.Time, error) {
	var v [6]int
	for i, c := range b {
		hi, lo := int(c>>4), int(c&0x0F)
		if hi > 9 || lo > 9 {
			return time.Time{}, bodyErr("time % X is not BCD", b)
		}
		v[i] = hi*10 + lo
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, bodyErr("time % X is not a date", b)
	}
	t := time.Date(2000+v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, beijing)
	if t.Day() != v[2] {
		return time.Time{}, bodyErr("time % X is not a date", b)
	}
	return t.UTC(), nil
}

// MaxBatch bounds the items of one batch upload (the count is a uint16;
// the body length, at most 1023 bytes a packet, bounds it further).
const MaxBatch = 1024

// Batch is a batch location upload (0x0704).
type Batch struct {
	Type      byte // 0 normal, 1 blind-area supplement
	Locations []Location
}

// DecodeBatch decodes a 0x0704 body.
func DecodeBatch(body []byte) (Batch, error) {
	var b Batch
	if len(body) < 3 {
		return b, bodyErr("batch of %d bytes, want at least 3", len(body))
	}
	n := int(be16(body))
	b.Type = body[2]
	if n == 0 || n > MaxBatch {
		return b, bodyErr("batch of %d items", n)
	}
	p := 3
	for i := 0; i < n; i++ {
		if p+2 > len(body) {
			return b, bodyErr("batch item %d of %d missing", i+1, n)
		}
		m := int(be16(body[p:]))
		p += 2
		if p+m > len(body) {
			return b, bodyErr("batch item %d runs past the body", i+1)
		}
		l, err := DecodeLocation(body[p : p+m])
		if err != nil {
			return b, fmt.Errorf("batch item %d: %w", i+1, err)
		}
		b.Locations = append(b.Locations, l)
		p += m
	}
	if p != len(body) {
		return b, bodyErr("%d bytes after the batch's %d items", len(body)-p, n)
	}
	return b, nil
}
