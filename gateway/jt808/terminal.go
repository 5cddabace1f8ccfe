package jt808

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// AppendRegister appends a 2013 registration body (0x0100).
func AppendRegister(dst []byte, r Register) ([]byte, error) {
	plate, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(r.Plate))
	if err != nil {
		return dst, fmt.Errorf("plate %q has no GBK form: %w", r.Plate, err)
	}
	dst = append(dst, byte(r.Province>>8), byte(r.Province), byte(r.City>>8), byte(r.City))
	dst = appendPadded(dst, r.Maker, 5)
	dst = appendPadded(dst, r.Model, 20)
	dst = appendPadded(dst, r.TerminalID, 7)
	dst = append(dst, r.PlateColor)
	return append(dst, plate...), nil
}

func appendPadded(dst []byte, s string, n int) []byte {
	if len(s) > n {
		s = s[:n]
	}
	dst = append(dst, s...)
	for i := len(s); i < n; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// AppendLocation appends a 0x0200 body (basic information only).
func AppendLocation(dst []byte, l Location) []byte {
	status := l.Status
	lat, lon := l.Lat, l.Lon
	if lat < 0 {
		status |= StatusSouth
		lat = -lat
	}
	if lon < 0 {
		status |= StatusWest
		lon = -lon
	}
	put32 := func(v uint32) { dst = append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
	put16 := func(v uint16) { dst = append(dst, byte(v>>8), byte(v)) }
	put32(l.Alarm)
	put32(status)
	put32(uint32(math.Round(lat * 1e6)))
	put32(uint32(math.Round(lon * 1e6)))
	put16(uint16(int16(l.AltitudeM)))
	put16(uint16(math.Round(l.SpeedKmh * 10)))
	put16(uint16(l.Heading % 360))
	t := l.Time.In(beijing)
	for _, v := range []int{t.Year() % 100, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()} {
		dst = append(dst, byte(v/10)<<4|byte(v%10))
	}
	return dst
}

// Terminal is a simulated terminal (2013 header): the simulator's and
// the bench's client. Not safe for concurrent use.
type Terminal struct {
	Phone  string
	c      net.Conn
	br     *bufio.Reader
	serial uint16
	out    []byte
	raw    []byte
}

// DialTerminal connects a terminal with phone number phone.
func DialTerminal(ctx context.Context, addr, phone string) (*Terminal, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Terminal{Phone: phone, c: c, br: bufio.NewReaderSize(c, 512)}, nil
}

// Close closes the connection.
func (t *Terminal) Close() error { return t.c.Close() }

// Send writes one message and returns its serial.
func (t *Terminal) Send(id uint16, body []byte) (uint16, error) {
	t.serial++
	t.out = AppendFrame(t.out[:0], Header{ID: id, Phone: t.Phone, Serial: t.serial}, false, body)
	t.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := t.c.Write(t.out)
	return t.serial, err
}

// Read reads the next platform message.
func (t *Terminal) Read(timeout time.Duration) (Header, []byte, error) {
	t.c.SetReadDeadline(time.Now().Add(timeout))
	for {
		esc, err := t.br.ReadSlice(flag)
		if err != nil {
			return Header{}, nil, err
		}
		esc = esc[:len(esc)-1]
		if len(esc) == 0 {
			continue
		}
		if t.raw, err = Unescape(t.raw[:0], esc); err != nil {
			return Header{}, nil, err
		}
		return Parse(t.raw)
	}
}

// Register registers plate and returns the auth code.
func (t *Terminal) Register(plate string) (string, error) {
	body, err := AppendRegister(nil, Register{Province: 33, City: 2, Maker: "PTRK", Model: "SIM", TerminalID: "T" + t.Phone, PlateColor: 2, Plate: plate})
	if err != nil {
		return "", err
	}
	if _, err := t.Send(IDRegister, body); err != nil {
		return "", err
	}
	h, b, err := t.Read(30 * time.Second)
	if err != nil {
		return "", err
	}
	if h.ID != IDRegisterResponse || len(b) < 3 {
		return "", fmt.Errorf("jt808: registration answered with %04x % x", h.ID, b)
	}
	if b[2] != RegisterOK {
		return "", fmt.Errorf("jt808: registration of %s refused with result %d", plate, b[2])
	}
	return string(b[3:]), nil
}

// Call sends a message and waits for the platform's general response to
// it, returning its result.
func (t *Terminal) Call(id uint16, body []byte) (byte, error) {
	serial, err := t.Send(id, body)
	if err != nil {
		return 0, err
	}
	for {
		h, b, err := t.Read(30 * time.Second)
		if err != nil {
			return 0, err
		}
		if h.ID != IDPlatformResponse {
			continue
		}
		r, err := DecodeResponse(b)
		if err != nil {
			return 0, err
		}
		if r.Serial == serial && r.ID == id {
			return r.Result, nil
		}
	}
}

// Authenticate sends the auth code (2013 layout).
func (t *Terminal) Authenticate(code string) error {
	res, err := t.Call(IDAuth, []byte(code))
	if err == nil && res != ResultOK {
		err = fmt.Errorf("jt808: authentication refused with result %d", res)
	}
	return err
}
