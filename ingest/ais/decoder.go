package ais

import (
	"bytes"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
)

// Errors returned by Feed. They are shared and allocation-free: never
// modify one. decode.Reason gives the reason code.
var (
	errNotAIS      = &decode.Error{Reason: decode.ReasonNotAIS, Msg: "no AIVDM/AIVDO sentence"}
	errChecksum    = &decode.Error{Reason: decode.ReasonBadChecksum, Msg: "sentence checksum mismatch"}
	errNoChecksum  = &decode.Error{Reason: decode.ReasonBadChecksum, Msg: "sentence has no *hh checksum"}
	errTagChecksum = &decode.Error{Reason: decode.ReasonBadChecksum, Msg: "tag block checksum mismatch or missing"}
	errTag         = &decode.Error{Reason: decode.ReasonBadField, Msg: "malformed tag block"}
	errTagTime     = &decode.Error{Reason: decode.ReasonBadTime, Msg: "tag block c: is not a unix time"}
	errFields      = &decode.Error{Reason: decode.ReasonBadField, Msg: "malformed VDM/VDO fields"}
	errArmour      = &decode.Error{Reason: decode.ReasonBadArmour, Msg: "payload character outside the 6-bit armour"}
	errEmpty       = &decode.Error{Reason: decode.ReasonBadLength, Msg: "empty payload"}
	errTooShort    = &decode.Error{Reason: decode.ReasonBadLength, Msg: "payload shorter than 38 bits"}
	errTooLong     = &decode.Error{Reason: decode.ReasonBadLength, Msg: "payload longer than 256 characters"}
)

// Stats counts what a Decoder has seen since NewDecoder. Rejected lines are
// counted under one reason each; Short, Long and Unsupported count delivered
// messages.
type Stats struct {
	Lines     uint64 // lines fed, blank ones included
	Skipped   uint64 // blank lines, '#' comments without a sentence, tag blocks with no sentence
	Sentences uint64 // well-formed AIS sentences: checksums, fields and armour good
	Fragments uint64 // of which fragments of multi-part messages
	Messages  uint64 // messages delivered to the callback

	Unsupported uint64 // delivered messages of a type not decoded (kept raw)
	Short       uint64 // decoded messages shorter than their type's nominal length
	Long        uint64 // decoded messages longer than nominal

	NotAIS          uint64 // lines holding no AIVDM/AIVDO sentence (not_ais)
	BadChecksum     uint64 // sentence checksum wrong or missing; also counted when Lenient accepts it
	BadTagChecksum  uint64 // tag block checksum wrong or missing, ditto
	FakeTagChecksum uint64 // tag block checksum *00 accepted as "not computed"
	BadField        uint64 // malformed sentence fields or tag block (bad_field)
	BadTime         uint64 // tag block c: unparseable (bad_time)
	BadArmour       uint64 // payload characters outside the armour (bad_armour)
	BadLength       uint64 // payload empty, under 38 bits or over 256 characters (bad_length)

	// Fragments not assembled into a message (expired_fragment).
	Duplicates uint64 // repeats of a held fragment, ignored
	Expired    uint64 // dropped: group older than FragmentTTL, or by Flush
	Evicted    uint64 // dropped: MaxGroups groups were held
	Superseded uint64 // dropped: a different fragment with the same key and number came
	InFlight   int    // incomplete groups held now
}

// Decoder decodes AIS sentences and holds the reassembly state of one
// source partition. It is not safe for concurrent use.
type Decoder struct {
	cfg   Config
	ttl   int64
	stats Stats
	line  int
	asm   assembler
	// The two clocks of fragment expiry (unix ns, 0 until seen): the
	// latest tag block c: and the latest receive time passed to Feed.
	tagNow, recvNow int64

	msg     Message
	chars   [maxChars]byte     // an assembled payload, armoured
	bits    [maxBytes + 8]byte // the payload being decoded; +8: see bitReader
	station [maxStation]byte   // the station of an assembled message
}

// NewDecoder validates cfg and returns a Decoder with all of its memory
// allocated.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Decoder{cfg: cfg, ttl: int64(cfg.FragmentTTL)}
	d.asm.init(cfg.MaxGroups)
	return d, nil
}

// Stats returns the counters.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.InFlight = d.asm.inUse
	return s
}

// Lines returns the number of lines fed so far; Message.Line counts alike.
func (d *Decoder) Lines() int { return d.line }

// Feed is FeedFrom with no source.
func (d *Decoder) Feed(data []byte, recv time.Time, fn func(*Message)) error {
	return d.FeedFrom(nil, data, recv, fn)
}

// FeedFrom decodes the lines in data and calls fn with each message that a
// line completes. Lines are split on '\n' (a final '\n' ends the last line,
// so "" and "\n" are one blank line); surrounding blanks and '\r' are
// ignored. source names where data came from (the receiving station, a
// Kafka record key): it keys the reassembly of fragments whose tag block
// has no s:. recv is when data was received, the zero Time if unknown; it
// drives fragment expiry alongside tag block times.
//
// Every line is processed. FeedFrom returns the error of the first line it
// rejected, a *decode.Error (shared: do not modify), or nil; Stats counts
// every rejection. fn and data are not retained; fn may be nil.
func (d *Decoder) FeedFrom(source, data []byte, recv time.Time, fn func(*Message)) error {
	if !recv.IsZero() {
		d.recvNow = recv.UnixNano()
	}
	src := hash(source)
	var first error
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		if err := d.feedLine(line, src, fn); err != nil && first == nil {
			first = err
		}
		if !more || len(rest) == 0 {
			return first
		}
		data = rest
	}
}

// sentence is a parsed line.
type sentence struct {
	// From the VDM/VDO sentence; total == 0 when the line has none.
	talker     [2]byte
	own        bool
	total, num uint8
	seq        uint8 // sequence id + 1; 0 when empty
	channel    byte
	payload    []byte
	fill       uint8
	// From the tag block.
	station []byte
	tagTime int64 // unix ns, valid if hasTime
	hasTime bool
	gid     uint32 // g: group id + 1; 0 when none
}

func (d *Decoder) feedLine(line []byte, src uint64, fn func(*Message)) error {
	d.line++
	d.stats.Lines++
	for len(line) > 0 && isSpace(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	for len(line) > 0 && isSpace(line[0]) {
		line = line[1:]
	}
	if len(line) == 0 {
		d.stats.Skipped++
		return nil
	}
	var s sentence
	if err := d.parse(line, &s); err == errNotAIS {
		if line[0] == '#' {
			// A comment. One that quotes a sentence has been decoded
			// like any line with a junk prefix, as gpsd does.
			d.stats.Skipped++
			return nil
		}
		d.stats.NotAIS++
		return err
	} else if err != nil {
		return err
	}
	if s.hasTime {
		d.tagNow = s.tagTime
	}
	if s.total == 0 {
		d.stats.Skipped++
		return nil
	}
	if s.total > 1 {
		if !validArmour(s.payload) {
			d.stats.BadArmour++
			return errArmour
		}
		d.stats.Sentences++
		d.stats.Fragments++
		return d.fragment(&s, src, fn)
	}
	if len(s.payload) > maxChars {
		d.stats.BadLength++
		return errTooLong
	}
	if !unarmour(d.bits[:], s.payload) {
		d.stats.BadArmour++
		return errArmour
	}
	d.stats.Sentences++
	return d.emit(&s, 6*len(s.payload)-int(s.fill), s.station, s.tagTime, s.hasTime, fn)
}

// emit decodes the payload in d.bits and calls fn.
func (d *Decoder) emit(s *sentence, nbits int, station []byte, tagTime int64, hasTime bool, fn func(*Message)) error {
	if nbits < minBits {
		d.stats.BadLength++
		return errTooShort
	}
	m := &d.msg
	*m = Message{
		Bits:    nbits,
		Talker:  s.talker,
		Own:     s.own,
		Channel: s.channel,
		Line:    d.line,
		Station: station,
		payload: d.bits[:],
	}
	if hasTime {
		m.Time = time.Unix(0, tagTime).UTC()
	}
	r := bitReader{b: d.bits[:], n: nbits}
	if m.decodeFields(&r) {
		nominal := nominalBits[m.Type]
		if m.Part == 'B' {
			nominal = 168
		}
		switch {
		case nbits < nominal:
			d.stats.Short++
		case nbits > nominal:
			d.stats.Long++
		}
	} else {
		d.stats.Unsupported++
	}
	d.stats.Messages++
	if fn != nil {
		fn(m)
	}
	return nil
}

// parse finds the tag block and the sentence in line, after any junk
// prefix, and fills s. A line with only a tag block leaves s.total 0.
func (d *Decoder) parse(line []byte, s *sentence) error {
	for i := indexStart(line, 0); i >= 0; i = indexStart(line, i+1) {
		if line[i] == '\\' {
			end := bytes.IndexByte(line[i+1:], '\\')
			if end < 0 {
				d.stats.BadField++
				return errTag
			}
			if err := d.parseTag(line[i+1:i+1+end], s); err != nil {
				return err
			}
			rest := line[i+2+end:]
			if len(rest) == 0 {
				return nil
			}
			if !isVDx(rest) {
				break
			}
			return d.parseSentence(rest, s)
		}
		if isVDx(line[i:]) {
			return d.parseSentence(line[i:], s)
		}
		// Some other sentence ($PGHP, $GPZDA, ...); an AIS sentence may
		// still follow it on the same line.
	}
	return errNotAIS // counted by the caller
}

// indexStart returns the index of the first '\\', '!' or '$' in line at
// or after i, or -1.
func indexStart(line []byte, i int) int {
	for ; i < len(line); i++ {
		if c := line[i]; c == '\\' || c == '!' || c == '$' {
			return i
		}
	}
	return -1
}

// isVDx reports whether p starts a VDM or VDO sentence: '!' or '$', any
// two-byte talker, "VDM" or "VDO", ','.
func isVDx(p []byte) bool {
	return len(p) >= 7 && (p[0] == '!' || p[0] == '$') && p[3] == 'V' && p[4] == 'D' &&
		(p[5] == 'M' || p[5] == 'O') && p[6] == ','
}

// parseSentence parses a VDM/VDO sentence starting at its '!' or '$'.
// One pass over the bytes up to '*' computes the checksum and finds the
// six commas that delimit the fields.
func (d *Decoder) parseSentence(p []byte, s *sentence) error {
	var (
		sum    byte
		commas [6]int // "xxVDM,total,num,seq,channel,payload,fill"
		n      int
		i      = 1
	)
	for ; i < len(p) && p[i] != '*'; i++ {
		c := p[i]
		sum ^= c
		if c == ',' {
			if n < len(commas) {
				commas[n] = i
			}
			n++
		}
	}
	if i < len(p) {
		if want, ok := hexByte(p[i+1:]); !ok || want != sum {
			d.stats.BadChecksum++
			if !d.cfg.Lenient {
				return errChecksum
			}
		}
	} else {
		d.stats.BadChecksum++
		if !d.cfg.Lenient {
			return errNoChecksum
		}
	}
	if n != len(commas) || commas[0] != 6 { // '*' in the address, or fields missing or extra
		return d.badFields()
	}
	total, num := p[commas[0]+1:commas[1]], p[commas[1]+1:commas[2]]
	seq, ch := p[commas[2]+1:commas[3]], p[commas[3]+1:commas[4]]
	payload, fill := p[commas[4]+1:commas[5]], p[commas[5]+1:i]
	// The fill is one digit, or empty for 0. The standard says 0..5; AISHub
	// data also holds 6 (a whole padding character), which gpsd accepts,
	// so any digit is taken and the length checked later.
	if len(total) != 1 || total[0] < '1' || total[0] > '9' ||
		len(num) != 1 || num[0] < '1' || num[0] > total[0] ||
		len(seq) > 2 || len(ch) > 1 || len(fill) > 1 || len(fill) == 1 && (fill[0] < '0' || fill[0] > '9') {
		return d.badFields()
	}
	s.talker = [2]byte{p[1], p[2]}
	s.own = p[5] == 'O'
	s.total, s.num = total[0]-'0', num[0]-'0'
	if len(seq) > 0 {
		v, ok := atoi(seq)
		if !ok {
			return d.badFields()
		}
		s.seq = uint8(v) + 1
	}
	if len(ch) == 1 {
		s.channel = ch[0]
	}
	if len(fill) == 1 {
		s.fill = fill[0] - '0'
	}
	if len(payload) == 0 {
		d.stats.BadLength++
		return errEmpty
	}
	s.payload = payload // armour checked by the caller
	return nil
}

func (d *Decoder) badFields() error {
	d.stats.BadField++
	return errFields
}

// parseTag parses the inside of a tag block: comma-separated "x:value"
// fields, then *hh.
func (d *Decoder) parseTag(t []byte, s *sentence) error {
	body := t
	if star := bytes.LastIndexByte(t, '*'); star >= 0 {
		body = t[:star]
		sum, ok := hexByte(t[star+1:])
		switch {
		case ok && len(t) == star+3 && sum == xor(body):
		case ok && len(t) == star+3 && sum == 0 && !d.cfg.RejectFakeTagChecksum:
			d.stats.FakeTagChecksum++
		default:
			d.stats.BadTagChecksum++
			if !d.cfg.Lenient {
				return errTagChecksum
			}
		}
	} else {
		d.stats.BadTagChecksum++
		if !d.cfg.Lenient {
			return errTagChecksum
		}
	}
	for len(body) > 0 {
		var f []byte
		f, body, _ = cut(body)
		if len(f) < 2 || f[1] != ':' {
			d.stats.BadField++
			return errTag
		}
		v := f[2:]
		switch f[0] {
		case 's':
			if len(v) > 0 {
				s.station = v
			}
		case 'c':
			ns, ok := parseUnix(v)
			if !ok {
				d.stats.BadTime++
				return errTagTime
			}
			s.tagTime, s.hasTime = ns, true
		case 'g':
			// k-n-id: sentence k of n in group id.
			k, rest, _ := bytes.Cut(v, []byte{'-'})
			n, id, _ := bytes.Cut(rest, []byte{'-'})
			_, ok1 := atoi(k)
			_, ok2 := atoi(n)
			gid, ok3 := atoi(id)
			if !ok1 || !ok2 || !ok3 {
				d.stats.BadField++
				return errTag
			}
			s.gid = uint32(gid) + 1
		}
		// d: destination, n: line count, r: relative time, t: text, i:
		// info: not needed.
	}
	return nil
}

// parseUnix parses a tag block c: value, seconds or milliseconds since the
// epoch, into unix nanoseconds. Values below 9e9 are seconds (up to year
// 2255), values from 1e10 milliseconds (from 1970-04-26): the magnitude
// tells them apart. An optional fraction is kept to the nanosecond.
func parseUnix(v []byte) (int64, bool) {
	whole, frac, hasFrac := bytes.Cut(v, []byte{'.'})
	if len(whole) == 0 || len(whole) > 14 || hasFrac && len(frac) == 0 {
		return 0, false
	}
	n, ok := atoi(whole)
	if !ok {
		return 0, false
	}
	var unit int64
	switch {
	case n < 9e9: // seconds; 9e9 keeps the nanoseconds within int64
		unit = int64(time.Second)
	case n >= 1e10 && n < 9e12:
		unit = int64(time.Millisecond)
	default:
		return 0, false
	}
	ns := n * unit
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		if unit /= 10; unit > 0 {
			ns += int64(c-'0') * unit
		}
	}
	return ns, true
}

// cut returns the bytes before the first ',' and after it; ok is false,
// and head all of p, when p has no ','.
func cut(p []byte) (head, rest []byte, ok bool) {
	if i := bytes.IndexByte(p, ','); i >= 0 {
		return p[:i], p[i+1:], true
	}
	return p, nil, false
}

// atoi parses 1 to 18 decimal digits.
func atoi(p []byte) (int64, bool) {
	if len(p) == 0 || len(p) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func xor(p []byte) byte {
	var x byte
	for _, c := range p {
		x ^= c
	}
	return x
}

// hexByte parses the two hex digits (either case) at the start of p.
func hexByte(p []byte) (byte, bool) {
	if len(p) < 2 {
		return 0, false
	}
	hi, ok1 := unhex(p[0])
	lo, ok2 := unhex(p[1])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// hash is 64-bit FNV-1a; it keys fragments by station without keeping the
// station's bytes in the key.
func hash(p []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range p {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
