package ais

import (
	"bytes"
	"math/bits"
)

// maxStation is the longest tag block s: kept for an assembled message;
// longer ones are truncated in Message.Station (the key hashes them whole).
const maxStation = 64

// groupKey identifies the fragments of one multi-part message.
type groupKey struct {
	src     uint64 // hash of the station: tag s:, else FeedFrom's source
	gid     uint32 // tag block g: id + 1 (src is then FeedFrom's source); 0: none
	talker  [2]byte
	own     bool
	channel byte
	seq     uint8
	total   uint8
}

// slot is the part of a group scanned on every fragment, kept apart from
// the payload buffers so that a lookup touches little memory.
type slot struct {
	key       groupKey
	used      bool
	born      uint64 // arrival order of the first fragment: eviction order
	line      int    // Decoder.line at the first fragment
	tagStart  int64  // tag clock when the group started; 0: none yet
	recvStart int64  // receive clock when the group started; 0: none yet
}

// group holds the fragments received so far of one message.
type group struct {
	have       uint16 // bit k-1 set: fragment k held
	n          uint16 // bytes of buf used
	frag       [maxFragments]struct{ off, len uint16 }
	fill       uint8 // of the last fragment
	hasTime    bool
	tagTime    int64
	stationLen uint8
	station    [maxStation]byte
	buf        [maxChars]byte
}

// assembler holds the incomplete groups: slots[i] describes groups[i].
type assembler struct {
	slots  []slot
	groups []group
	inUse  int
	born   uint64
}

func (a *assembler) init(n int) {
	a.slots = make([]slot, n)
	a.groups = make([]group, n)
}

func (a *assembler) find(k groupKey) int {
	for i, left := 0, a.inUse; left > 0; i++ {
		if a.slots[i].used {
			if a.slots[i].key == k {
				return i
			}
			left--
		}
	}
	return -1
}

// take returns a free group for k, first evicting the oldest group if all
// are in use; evicted counts the fragments that dropped.
func (a *assembler) take(k groupKey) (i int, evicted int) {
	if a.inUse == len(a.slots) {
		oldest := 0
		for j := range a.slots {
			if a.slots[j].born < a.slots[oldest].born {
				oldest = j
			}
		}
		evicted = a.free(oldest)
	}
	for i = range a.slots {
		if !a.slots[i].used {
			break
		}
	}
	a.born++
	a.slots[i] = slot{key: k, used: true, born: a.born}
	a.inUse++
	return i, evicted
}

// free releases group i and returns how many fragments it held.
func (a *assembler) free(i int) int {
	g := &a.groups[i]
	n := bits.OnesCount16(g.have)
	g.have, g.n, g.fill, g.hasTime, g.tagTime, g.stationLen = 0, 0, 0, false, 0, 0
	a.slots[i].used = false
	a.inUse--
	return n
}

// expire drops the groups older than the TTL on either clock, or, for a
// group without a clock, older than FragmentLines lines.
func (d *Decoder) expire() {
	a := &d.asm
	for i, left := 0, a.inUse; left > 0; i++ {
		sl := &a.slots[i]
		if !sl.used {
			continue
		}
		left--
		clockless := sl.tagStart == 0 && sl.recvStart == 0
		if sl.tagStart != 0 && d.tagNow-sl.tagStart > d.ttl || sl.recvStart != 0 && d.recvNow-sl.recvStart > d.ttl ||
			clockless && d.line-sl.line > d.cfg.FragmentLines {
			d.stats.Expired += uint64(a.free(i))
		}
	}
}

// Flush drops every incomplete message, counting its fragments as expired.
// Call it at the end of a finite input; the Decoder stays usable.
func (d *Decoder) Flush() {
	a := &d.asm
	for i := range a.slots {
		if a.slots[i].used {
			d.stats.Expired += uint64(a.free(i))
		}
	}
}

// fragment files one fragment of a multi-part message and, when it
// completes its group, decodes and emits the message.
func (d *Decoder) fragment(s *sentence, src uint64, fn func(*Message)) error {
	k := groupKey{src: src, gid: s.gid, talker: s.talker, own: s.own, channel: s.channel, seq: s.seq, total: s.total}
	if s.gid == 0 && s.station != nil {
		k.src = hash(s.station)
	}
	a := &d.asm
	if a.inUse > 0 {
		d.expire()
	}
	bit := uint16(1) << (s.num - 1)
	i := a.find(k)
	if i >= 0 && a.groups[i].have&bit != 0 {
		g := &a.groups[i]
		f := g.frag[s.num-1]
		if bytes.Equal(g.buf[f.off:f.off+f.len], s.payload) && (s.num < s.total || g.fill == s.fill) {
			d.stats.Duplicates++
			return nil
		}
		// The same key and number with other content: the sequence id was
		// reused, so the held group will never complete.
		d.stats.Superseded += uint64(a.free(i))
		i = -1
	}
	if i < 0 {
		var evicted int
		i, evicted = a.take(k)
		d.stats.Evicted += uint64(evicted)
		a.slots[i].line = d.line
	}
	g, sl := &a.groups[i], &a.slots[i]
	if int(g.n)+len(s.payload) > maxChars {
		d.stats.BadLength++
		d.stats.Expired += uint64(a.free(i)) // cannot complete either
		return errTooLong
	}
	g.frag[s.num-1].off, g.frag[s.num-1].len = g.n, uint16(len(s.payload))
	g.n += uint16(copy(g.buf[g.n:], s.payload))
	g.have |= bit
	if s.num == s.total {
		g.fill = s.fill
	}
	if s.station != nil && g.stationLen == 0 {
		g.stationLen = uint8(copy(g.station[:], s.station))
	}
	if s.hasTime && !g.hasTime {
		g.tagTime, g.hasTime = s.tagTime, true
	}
	// A group is as old as the clocks were when it started: a fragment
	// without a c: of its own is taken to be at the latest c: seen (only
	// the first sentence of a tag block group carries one).
	if sl.tagStart == 0 {
		sl.tagStart = d.tagNow
	}
	if sl.recvStart == 0 {
		sl.recvStart = d.recvNow
	}
	if g.have != 1<<s.total-1 {
		return nil
	}

	n := 0
	for _, f := range g.frag[:s.total] {
		n += copy(d.chars[n:], g.buf[f.off:f.off+f.len])
	}
	unarmour(d.bits[:], d.chars[:n])
	station := d.station[:copy(d.station[:], g.station[:g.stationLen])]
	if len(station) == 0 {
		station = nil
	}
	nbits, tagTime, hasTime := 6*n-int(g.fill), g.tagTime, g.hasTime
	a.free(i)
	return d.emit(s, nbits, station, tagTime, hasTime, fn)
}
