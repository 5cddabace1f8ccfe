package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/gateway/jt808"
	"github.com/porttrack/porttrack/state"
)

// JT808Fleet drives the day's trucks through simulated JT/T 808 terminals
// connected to a gateway ('porttrack gateway jt808') instead of producing
// their truck.position records directly: one terminal per plate, connected,
// registered and authenticated when the plate first reports. Records that
// are not well-formed truck positions (the day's malformed noise, waybills,
// every other topic) still go to Kafka directly.
type JT808Fleet struct {
	Addr string // the gateway's address
	// PhonePrefix starts the terminals' phone numbers, default "0138"; the
	// n-th plate seen gets PhonePrefix followed by n in 8 digits.
	PhonePrefix string
	// Parallel bounds the terminals sending at once, default 64.
	Parallel int

	mu    sync.Mutex
	terms map[string]*fleetTerminal
	sent  int64
}

type fleetTerminal struct {
	mu sync.Mutex
	t  *jt808.Terminal
	n  int
}

// Sent is the number of locations the gateway acknowledged.
func (f *JT808Fleet) Sent() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

// Close closes every terminal.
func (f *JT808Fleet) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ft := range f.terms {
		if ft.t != nil {
			ft.t.Close()
		}
	}
	f.terms = nil
}

type simPosition struct {
	Type    string          `json:"type"`
	Plate   string          `json:"plate"`
	Lat     float64         `json:"lat"`
	Lon     float64         `json:"lon"`
	T       json.RawMessage `json:"t"`
	Speed   *float64        `json:"speed"`
	Heading *float64        `json:"heading"`
}

// location returns the JT/T 808 location of a truck.position value.
func location(value []byte) (string, jt808.Location, bool) {
	var p simPosition
	if json.Unmarshal(value, &p) != nil || p.Type != "truck.position" ||
		p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
		return "", jt808.Location{}, false
	}
	plate, err := state.ParsePlate(p.Plate)
	if err != nil {
		return "", jt808.Location{}, false // the engine dead-letters it: keep it on the direct path
	}
	var t time.Time
	var s string
	if json.Unmarshal(p.T, &s) == nil {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return "", jt808.Location{}, false
		}
	} else if ms, err := strconv.ParseInt(string(p.T), 10, 64); err == nil {
		t = time.UnixMilli(ms)
	} else {
		return "", jt808.Location{}, false
	}
	if t.Year() < 2000 || t.Year() > 2099 {
		return "", jt808.Location{}, false
	}
	l := jt808.Location{Status: jt808.StatusLocated, Lat: p.Lat, Lon: p.Lon, Time: t}
	if p.Speed != nil && *p.Speed >= 0 && *p.Speed < 6000 {
		l.SpeedKmh = *p.Speed
	}
	if p.Heading != nil && *p.Heading >= 0 && *p.Heading <= 360 {
		l.Heading = int(*p.Heading+0.5) % 360
	}
	return plate, l, true
}

// Divert sends the truck positions among msgs through the terminals, each
// acknowledged by the gateway (so by Kafka) before Divert returns, and
// returns the other messages, to be produced directly.
func (f *JT808Fleet) Divert(ctx context.Context, msgs []kafka.Message) ([]kafka.Message, error) {
	byPlate := map[string][]jt808.Location{}
	var order []string
	rest := msgs[:0:0]
	for _, m := range msgs {
		plate, l, ok := location(m.Value)
		if !ok {
			rest = append(rest, m)
			continue
		}
		if _, seen := byPlate[plate]; !seen {
			order = append(order, plate)
		}
		byPlate[plate] = append(byPlate[plate], l)
	}
	if len(order) == 0 {
		return rest, nil
	}
	par := f.Parallel
	if par <= 0 {
		par = 64
	}
	sem := make(chan struct{}, par)
	var (
		wg    sync.WaitGroup
		emu   sync.Mutex
		first error
	)
	for _, plate := range order {
		ft := f.terminal(plate)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := f.send(ctx, ft, plate, byPlate[plate])
			f.mu.Lock()
			f.sent += int64(n)
			f.mu.Unlock()
			if err != nil {
				emu.Lock()
				if first == nil {
					first = fmt.Errorf("sim: jt808 terminal of %s: %w", plate, err)
				}
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	return rest, first
}

func (f *JT808Fleet) terminal(plate string) *fleetTerminal {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.terms == nil {
		f.terms = map[string]*fleetTerminal{}
	}
	ft, ok := f.terms[plate]
	if !ok {
		ft = &fleetTerminal{n: len(f.terms)}
		f.terms[plate] = ft
	}
	return ft
}

func (f *JT808Fleet) send(ctx context.Context, ft *fleetTerminal, plate string, ls []jt808.Location) (int, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.t == nil {
		prefix := f.PhonePrefix
		if prefix == "" {
			prefix = "0138"
		}
		t, err := jt808.DialTerminal(ctx, f.Addr, fmt.Sprintf("%s%08d", prefix, ft.n))
		if err != nil {
			return 0, err
		}
		code, err := t.Register(plate)
		if err == nil {
			err = t.Authenticate(code)
		}
		if err != nil {
			t.Close()
			return 0, err
		}
		ft.t = t
	}
	var body []byte
	for i := range ls {
		body = jt808.AppendLocation(body[:0], ls[i])
		res, err := ft.t.Call(jt808.IDLocation, body)
		if err != nil {
			ft.t.Close()
			ft.t = nil // reconnect on the next batch
			return i, err
		}
		if res != jt808.ResultOK {
			return i, fmt.Errorf("location answered with result %d", res)
		}
	}
	return len(ls), nil
}
