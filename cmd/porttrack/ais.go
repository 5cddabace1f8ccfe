package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/ingest/decode"
)

const aisUsage = `Usage: porttrack ais decode [flags] [FILE...]

Decodes NMEA 0183 AIS sentences (!AIVDM/!AIVDO, tag blocks, multi-part
messages) from the files, or from stdin when none is given, and writes one
JSON object per message to stdout. Unknown values (sentinels, out of range,
not in the payload) are left out. Bad lines are reported on stderr as
FILE:LINE: reason: detail, and decoding goes on.

Flags:
`

// runAIS runs `porttrack ais`. stdin is read when no file is given.
func runAIS(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, aisUsage)
		return usageError("ais: no subcommand given")
	}
	switch args[0] {
	case "decode":
		return runAISDecode(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runAISDecode(ctx, []string{"--help"}, stdin, stdout, stderr)
	}
	fmt.Fprint(stderr, aisUsage)
	return usageError("ais: unknown subcommand %q", args[0])
}

func runAISDecode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg ais.Config
	var stats bool
	fs := flag.NewFlagSet("ais decode", flag.ContinueOnError)
	fs.BoolVar(&cfg.Lenient, "lenient", false, "accept sentences and tag blocks with a wrong or missing checksum")
	fs.BoolVar(&stats, "stats", false, "write the decoder's counters of each input to stderr as JSON")
	if err := parseFlags(fs, args, aisUsage, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	var failed []error
	decodeInput := func(name string, r io.Reader) error {
		d, err := ais.NewDecoder(cfg)
		if err != nil {
			return err
		}
		err = decodeAIS(ctx, d, name, r, out, stderr)
		d.Flush()
		s := d.Stats()
		if n := s.Expired + s.Evicted + s.Superseded; n > 0 {
			fmt.Fprintf(stderr, "%s: %s: %d fragment(s) of incomplete multi-part messages dropped\n", name, decode.ReasonExpiredFragment, n)
		}
		if stats {
			b, _ := json.Marshal(s)
			fmt.Fprintf(stderr, "%s: stats %s\n", name, b)
		}
		return err
	}
	if fs.NArg() == 0 {
		if err := decodeInput("stdin", stdin); err != nil {
			failed = append(failed, err)
		}
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			failed = append(failed, err) // reported on exit; the other files go on
			continue
		}
		err = decodeInput(name, f)
		f.Close()
		if err != nil {
			failed = append(failed, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("ais decode: writing output: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("ais decode: %w", errors.Join(failed...))}
	}
	return nil
}

// maxAISLine bounds a line; a longer one is reported and skipped.
const maxAISLine = 64 << 10

// decodeAIS decodes r line by line into out; bad lines go to errOut. It
// returns an error only when r cannot be read or out not written.
func decodeAIS(ctx context.Context, d *ais.Decoder, name string, r io.Reader, out *bufio.Writer, errOut io.Writer) error {
	br := bufio.NewReaderSize(r, maxAISLine)
	var buf []byte
	var werr error
	emit := func(m *ais.Message) {
		buf = appendAISJSON(buf[:0], m)
		if _, err := out.Write(buf); err != nil && werr == nil {
			werr = err
		}
	}
	for n := 1; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil // run reports the cancellation
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			fmt.Fprintf(errOut, "%s:%d: line longer than %d bytes, skipped\n", name, n, maxAISLine)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
			if err == nil {
				_ = d.Feed(nil, time.Time{}, nil) // keep the decoder's line count
				continue
			}
		}
		if len(line) > 0 {
			if ferr := d.Feed(line, time.Time{}, emit); ferr != nil {
				fmt.Fprintf(errOut, "%s:%d: %v\n", name, n, ferr)
			}
			if werr != nil {
				return fmt.Errorf("writing output: %w", werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

// appendAISJSON appends m as one JSON object and a newline, with the field
// names of issue 3; unknown values are left out.
func appendAISJSON(b []byte, m *ais.Message) []byte {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(m.Line), 10)
	b = appendUint(b, "type", uint64(m.Type), true)
	b = appendUint(b, "mmsi", uint64(m.MMSI), true)
	b = appendUint(b, "repeat", uint64(m.Repeat), true)
	status, ok := m.Status()
	b = appendUint(b, "status", uint64(status), ok)
	if turn, ok := m.Turn(); ok {
		b = append(b, `,"turn":`...)
		b = strconv.AppendInt(b, int64(turn), 10)
	}
	speed, ok := m.Speed()
	b = appendFloat(b, "speed", speed, ok)
	if acc, ok := m.Accuracy(); ok {
		b = append(b, `,"accuracy":`...)
		b = strconv.AppendBool(b, acc)
	}
	lat, lon, ok := m.Position()
	b = appendFloat(b, "lon", lon, ok)
	b = appendFloat(b, "lat", lat, ok)
	course, ok := m.Course()
	b = appendFloat(b, "course", course, ok)
	heading, ok := m.Heading()
	b = appendUint(b, "heading", uint64(heading), ok)
	second, ok := m.Second()
	b = appendUint(b, "second", uint64(second), ok)
	imo, ok := m.IMO()
	b = appendUint(b, "imo", uint64(imo), ok)
	b = appendString(b, "callsign", m.Callsign())
	b = appendString(b, "shipname", m.Shipname())
	shiptype, ok := m.ShipType()
	b = appendUint(b, "shiptype", uint64(shiptype), ok)
	bow, stern, port, stbd, ok := m.Dimensions()
	b = appendUint(b, "to_bow", uint64(bow), ok)
	b = appendUint(b, "to_stern", uint64(stern), ok)
	b = appendUint(b, "to_port", uint64(port), ok)
	b = appendUint(b, "to_starboard", uint64(stbd), ok)
	epfd, ok := m.EPFD()
	b = appendUint(b, "epfd", uint64(epfd), ok)
	if mo, day, h, mi, ok := m.ETA(); ok {
		b = append(b, `,"eta":"`...)
		b = append(append2(b, mo), '-')
		b = append(append2(b, day), 'T')
		b = append(append2(b, h), ':')
		b = append(append2(b, mi), 'Z', '"')
	}
	draught, ok := m.Draught()
	b = appendFloat(b, "draught", draught, ok)
	b = appendString(b, "destination", m.Destination())
	if m.Part != 0 {
		b = append(b, `,"part":"`...)
		b = append(b, m.Part, '"')
	}
	b = appendString(b, "station", m.Station)
	if !m.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = m.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

func appendKey(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendUint(b []byte, name string, v uint64, ok bool) []byte {
	if !ok {
		return b
	}
	return strconv.AppendUint(appendKey(b, name), v, 10)
}

func appendFloat(b []byte, name string, v float64, ok bool) []byte {
	if !ok {
		return b
	}
	return strconv.AppendFloat(appendKey(b, name), v, 'f', -1, 64)
}

// appendString appends a non-empty string field.
func appendString(b []byte, name string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendJSONString(appendKey(b, name), v)
}

// append2 appends v (0..99) as two digits.
func append2(b []byte, v uint8) []byte { return append(b, '0'+v/10, '0'+v%10) }

// appendJSONString appends s as a JSON string. Station ids come from the
// wire: control bytes are escaped and invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
