package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Frames written byte by byte (check codes computed by hand): terminal
// 013912345678 (2013 header) registers 浙B12345 (GBK D5E3 42 31 32 33 34 35),
// reports 29.9339 N 121.8801 E at 2026-11-22 16:06:00 UTC+8 (speed byte 7D
// escaped), uploads a batch of two (the second with the emergency bit),
// sends a location split in two packets; terminal 013900000002 claims the
// same plate.
const (
	e2eRegister = "7e0100002d0139123456780001002100025054524b004a543830382d53494d00000000000000000000005430303030303102d5e3423132333435657e"
	e2eLocation = "7e020000220139123456780003000000000000000201c8c14c0743be240005007d01005a261122160600010400000100a87e"
	e2eBatch    = "7e0704003f0139123456780004000201001c000000000000000201c8c1b00743be8800050064005b261122160630001c000000010000000201c8c2140743beec00050000005c2611221607009b7e"
	e2eSplit1   = "7e0200200e013912345678000500020001000000000000000201c8c5980743c87e"
	e2eSplit2   = "7e0200200e013912345678000600020002c1a8000500c800b4261122160800017e"
	e2eSecond   = "7e0100002d0139000000020001002100025054524b004a543830382d53494d00000000000000000000005430303030303102d5e34231323334356f7e"
)

// e2eTerminal writes hex frames and reads replies with its own unescaping.
type e2eTerminal struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (m *e2eTerminal) send(b []byte) {
	m.t.Helper()
	if _, err := m.c.Write(b); err != nil {
		m.t.Fatal(err)
	}
}

func (m *e2eTerminal) sendHex(s string) {
	m.t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		m.t.Fatal(err)
	}
	m.send(b)
}

// read returns the message id and body of the next reply.
func (m *e2eTerminal) read() (uint16, []byte) {
	m.t.Helper()
	m.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := m.br.ReadByte(); err != nil || b != 0x7e {
		m.t.Fatalf("reply start %x: %v", b, err)
	}
	esc, err := m.br.ReadBytes(0x7e)
	if err != nil {
		m.t.Fatal(err)
	}
	var raw []byte
	for i := 0; i < len(esc)-1; i++ {
		if esc[i] == 0x7d {
			i++
			raw = append(raw, 0x7c+esc[i])
			continue
		}
		raw = append(raw, esc[i])
	}
	var cs byte
	for _, c := range raw[:len(raw)-1] {
		cs ^= c
	}
	if len(raw) < 13 || cs != raw[len(raw)-1] {
		m.t.Fatalf("reply % x: short or bad check code", raw)
	}
	return uint16(raw[0])<<8 | uint16(raw[1]), raw[12 : len(raw)-1]
}

func (m *e2eTerminal) expect(id uint16, body string) {
	m.t.Helper()
	gotID, got := m.read()
	if gotID != id || hex.EncodeToString(got) != body {
		m.t.Fatalf("reply %04x %x, want %04x %s", gotID, got, id, body)
	}
}

// TestGatewayJT808IntoEngine: terminals talk to 'porttrack gateway jt808'
// in front of the demo's broker and engine; the truck is in the API within
// a second of the gateway's acknowledgement.
func TestGatewayJT808IntoEngine(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow.txt")
	if err := os.WriteFile(allow, []byte("# device plate\n013912345678 浙B12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut syncBuffer
	go func() {
		done <- run(ctx, []string{"gateway", "jt808", "--listen", listen, "--brokers", d.broker,
			"--data-dir", filepath.Join(dir, "gw"), "--allow-file", allow, "--http-addr", metrics}, os.Getenv, &out, &errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway returned %v", err)
		}
		if t.Failed() {
			t.Logf("gateway stdout:\n%s\nstderr:\n%s", out.String(), tail(errOut.String(), 40))
		}
	}()
	var c net.Conn
	waitFor(t, 10*time.Second, func() (bool, string) {
		var err error
		c, err = net.Dial("tcp", listen)
		return err == nil, fmt.Sprint(err)
	})
	defer c.Close()
	m := &e2eTerminal{t: t, c: c, br: bufio.NewReader(c)}

	m.sendHex(e2eRegister)
	id, body := m.read()
	if id != 0x8100 || len(body) < 4 || hex.EncodeToString(body[:3]) != "000100" {
		t.Fatalf("registration reply %04x %x", id, body)
	}
	code := body[3:]
	// Authentication, 2013: header 0102, length, phone, serial 2, the code.
	raw := append([]byte{0x01, 0x02, 0, byte(len(code)), 0x01, 0x39, 0x12, 0x34, 0x56, 0x78, 0, 2}, code...)
	var cs byte
	for _, b := range raw {
		cs ^= b
	}
	fr := []byte{0x7e}
	for _, b := range append(raw, cs) {
		switch b {
		case 0x7e:
			fr = append(fr, 0x7d, 0x02)
		case 0x7d:
			fr = append(fr, 0x7d, 0x01)
		default:
			fr = append(fr, b)
		}
	}
	m.send(append(fr, 0x7e))
	m.expect(0x8001, "0002010200")

	m.sendHex(e2eLocation)
	m.expect(0x8001, "0003020000")
	acked := time.Now()
	truck := d.base + "/v1/trucks/" + url.PathEscape("浙B12345")
	waitFor(t, time.Second, func() (bool, string) {
		code, body, err := httpGet(truck)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK && strings.Contains(string(body), "29.9339"), fmt.Sprintf("GET %s: %d %s", truck, code, body)
	})
	t.Logf("truck in the API %s after the gateway's acknowledgement", time.Since(acked))

	bad, _ := hex.DecodeString(e2eLocation)
	bad[len(bad)-2] ^= 1
	m.send(bad) // a bad check code: counted, no reply, the connection goes on
	m.sendHex(e2eBatch)
	m.expect(0x8001, "0004070400")
	m.sendHex(e2eSplit1)
	m.sendHex(e2eSplit2)
	m.expect(0x8001, "0006020000")
	waitFor(t, time.Second, func() (bool, string) {
		code, body, err := httpGet(truck)
		return err == nil && code == http.StatusOK && strings.Contains(string(body), "29.935"), fmt.Sprintf("GET %s: %d %s %v", truck, code, body, err)
	})

	// A second device claims the plate: not in the allow-list, refused (4).
	c2, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	m2 := &e2eTerminal{t: t, c: c2, br: bufio.NewReader(c2)}
	m2.sendHex(e2eSecond)
	m2.expect(0x8100, "000104")

	samples, err := scrape("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"porttrack_jt808_frames_malformed_total":      1,
		"porttrack_jt808_messages_reassembled_total":  1,
		"porttrack_jt808_locations_total":             4,
		"porttrack_jt808_records_produced_total":      5, // 4 positions and the emergency alarm
		"porttrack_jt808_registrations_refused_total": 1,
		"porttrack_jt808_produce_errors_total":        0,
		"porttrack_jt808_ack_latency_seconds_count":   3,
	} {
		if samples[name] != want {
			t.Errorf("%s = %v, want %v", name, samples[name], want)
		}
	}
	// The alarm record is counted by the engine as an ignored truck.* type,
	// not dead-lettered.
	waitFor(t, 5*time.Second, func() (bool, string) {
		s, err := scrape(d.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		var dead float64
		for _, v := range series(s, "porttrack_ingest_records_dead_lettered_total") {
			dead += v
		}
		ign := series(s, "porttrack_transport_records_ignored_total")
		var ignored float64
		for _, v := range ign {
			ignored += v
		}
		return dead == 0 && ignored == 1, fmt.Sprintf("dead-lettered %v, ignored %v", dead, ign)
	})
}
