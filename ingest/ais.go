package ingest

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
)

// aisDecoder turns port.ais records (raw NMEA lines, one or more per
// record, fragments possibly split across records) into vessel reports. One
// per partition goroutine: it holds the fragment reassembly state.
//
// Junk lines are normal in AIS feeds (other NMEA sentences, bad checksums):
// they are counted by reason and dropped. A record is dead-lettered only
// when it holds no well-formed AIS sentence at all.
type aisDecoder struct {
	dec  *ais.Decoder
	prev ais.Stats
	m    *aisMetrics
}

func newAISDecoder(cfg ais.Config, m *aisMetrics) (*aisDecoder, error) {
	d, err := ais.NewDecoder(cfg)
	if err != nil {
		return nil, err
	}
	return &aisDecoder{dec: d, m: m}, nil
}

func (d *aisDecoder) decode(b *state.Batch, msg *fetch.Record) error {
	n := len(b.Vessels)
	recv := msg.Time
	if recv.IsZero() {
		recv = time.Now()
	}
	err := d.dec.FeedFrom(msg.Key, msg.Value, recv, func(m *ais.Message) {
		r, ok := vesselReport(m, recv, msg.Key)
		switch {
		case !ok:
			d.m.skipped.Add(1)
		case r.Validate() != nil:
			// Never let one report fail the partition's batch.
			d.m.invalid.Add(1)
		default:
			b.Vessels = append(b.Vessels, r)
		}
	})
	st := d.dec.Stats()
	d.m.add(&d.prev, &st)
	sentences := st.Sentences - d.prev.Sentences
	d.prev = st
	if err != nil && sentences == 0 && len(b.Vessels) == n {
		return err
	}
	return nil
}

// vesselReport maps a decoded message to a state report; ok is false for
// messages that say nothing about a vessel (base stations, binary
// messages, invalid MMSIs).
func vesselReport(m *ais.Message, recv time.Time, key []byte) (state.VesselReport, bool) {
	r := state.VesselReport{
		MMSI: m.MMSI, MsgType: m.Type,
		Speed: state.UnknownFloat, Course: state.UnknownFloat, Heading: state.UnknownInt,
		Status: state.UnknownInt, Turn: state.UnknownTurn, ShipType: state.UnknownInt,
		ToBow: state.UnknownInt, ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt,
	}
	if m.MMSI == 0 || m.MMSI > 999999999 {
		return r, false
	}
	t := m.Time
	if t.UnixNano() <= 0 {
		// No tag block time (or c:0): the record's time.
		t = recv
	}
	r.Time = t.UnixNano()
	switch {
	case len(m.Station) > 0:
		r.Station = string(m.Station)
	case len(key) > 0 && len(key) <= 64:
		// Records are keyed by receiving station (ARCHITECTURE.md §3).
		r.Station = string(key)
	}
	switch m.Type {
	case 1, 2, 3, 18, 19, 27:
		if lat, lon, ok := m.Position(); ok {
			r.HasPosition, r.Lat, r.Lon = true, lat, lon
		}
		if v, ok := m.Speed(); ok {
			r.Speed = v
		}
		if v, ok := m.Course(); ok {
			r.Course = v
		}
		if v, ok := m.Heading(); ok {
			r.Heading = int(v)
		}
		if v, ok := m.Status(); ok {
			r.Status = int(v)
		}
		if v, ok := m.Turn(); ok {
			r.Turn = int(v)
		}
	case 5, 24:
	default:
		return r, false
	}
	if v, ok := m.IMO(); ok {
		r.IMO = v
	}
	if s := m.Callsign(); s != nil {
		r.CallSign = string(s)
	}
	if s := m.Shipname(); s != nil {
		r.Name = string(s)
	}
	if s := m.Destination(); s != nil {
		r.Destination = string(s)
	}
	if v, ok := m.ShipType(); ok {
		r.ShipType = int(v)
	}
	if bow, stern, port, stbd, ok := m.Dimensions(); ok {
		r.ToBow, r.ToStern, r.ToPort, r.ToStarbd = int(bow), int(stern), int(port), int(stbd)
	}
	if v, ok := m.Draught(); ok {
		r.Draught = v
	}
	if mo, d, h, mi, ok := m.ETA(); ok {
		r.ETA = fmt.Sprintf("%02d-%02dT%02d:%02dZ", mo, d, h, mi)
	}
	return r, r.HasPosition || r.HasStatic()
}

// aisMetrics sums the AIS decoders' counters of every partition.
type aisMetrics struct {
	lines, sentences, messages, skipped, invalid           atomic.Uint64
	notAIS, badChecksum, badTagChecksum, badField, badTime atomic.Uint64
	badArmour, badLength, expired, evicted, unsupported    atomic.Uint64
}

func (m *aisMetrics) add(prev, cur *ais.Stats) {
	m.lines.Add(cur.Lines - prev.Lines)
	m.sentences.Add(cur.Sentences - prev.Sentences)
	m.messages.Add(cur.Messages - prev.Messages)
	m.notAIS.Add(cur.NotAIS - prev.NotAIS)
	m.badChecksum.Add(cur.BadChecksum - prev.BadChecksum)
	m.badTagChecksum.Add(cur.BadTagChecksum - prev.BadTagChecksum)
	m.badField.Add(cur.BadField - prev.BadField)
	m.badTime.Add(cur.BadTime - prev.BadTime)
	m.badArmour.Add(cur.BadArmour - prev.BadArmour)
	m.badLength.Add(cur.BadLength - prev.BadLength)
	m.expired.Add(cur.Expired - prev.Expired)
	m.evicted.Add(cur.Evicted - prev.Evicted)
	m.unsupported.Add(cur.Unsupported - prev.Unsupported)
}

// dropped returns the AIS lines dropped, by reason (the metric labels).
func (m *aisMetrics) dropped() []struct {
	reason string
	n      uint64
} {
	return []struct {
		reason string
		n      uint64
	}{
		{decode.ReasonNotAIS, m.notAIS.Load()},
		{decode.ReasonBadChecksum, m.badChecksum.Load()},
		{"bad_tag_checksum", m.badTagChecksum.Load()},
		{decode.ReasonBadField, m.badField.Load()},
		{decode.ReasonBadTime, m.badTime.Load()},
		{decode.ReasonBadArmour, m.badArmour.Load()},
		{decode.ReasonBadLength, m.badLength.Load()},
		{decode.ReasonExpiredFragment, m.expired.Load()},
		{"evicted_fragment", m.evicted.Load()},
	}
}
