package fetch

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Problems: why a range of offsets was delivered without records.
const (
	// ProblemCorrupt: a wrong CRC, length or record framing, or a
	// compressed body that does not decode.
	ProblemCorrupt = "corrupt_batch"
	// ProblemUnsupported: a batch older than format v2, or an unknown codec.
	ProblemUnsupported = "unsupported_format"
	// ProblemBatchTooLarge: the batch decompresses to more than
	// Config.MaxBatchBytes, or needs a zstd window over 32 MiB.
	ProblemBatchTooLarge = "batch_oversize"
)

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one record of a partition, or a range of offsets that could not
// be read (Problem set).
type Record struct {
	Offset int64
	// Time is the record's timestamp (its create time, or the broker's
	// append time when the topic says so).
	Time    time.Time
	Key     []byte
	Value   []byte // nil for a null value
	Headers []Header

	// Oversize is set when the value, the key or the headers exceed
	// Config.MaxRecordBytes. Then Value holds the value's first
	// Config.PrefixBytes and Key at most that many bytes; SHA256 is the
	// digest of the whole value.
	Oversize bool
	// HeadersTruncated is set when the headers exceed MaxRecordBytes: Headers
	// then holds those before the limit.
	HeadersTruncated bool
	// KeyTruncated is set when the key exceeds MaxRecordBytes: Key then
	// holds its first PrefixBytes. KeySize is the length of the whole key
	// (-1 for a null key).
	KeyTruncated bool
	KeySize      int64
	// Size is the length of the whole value (-1 for a null value).
	Size   int64
	SHA256 [sha256.Size]byte

	// Problem, when not empty, says why the offsets Offset..LastOffset
	// were skipped unread; Detail says more. Nothing else is set.
	Problem    string
	Detail     string
	LastOffset int64
}

var (
	crcTable      = crc32.MakeTable(crc32.Castagnoli)
	errBatchLimit = errors.New("batch exceeds the decompressed size limit")
	errFraming    = errors.New("record framing is wrong")
)

const batchHeaderLen = 61 // record batch v2 up to and including the record count

// readBatches walks the record batches of one fetch response.
func (c *Conn) readBatches(data []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, res *Result, fn func(*Record) error) error {
	slices.SortFunc(aborted, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		return int(min(max(a.FirstOffset-b.FirstOffset, -1), 1))
	})
	var active map[int64]bool // producers inside an aborted transaction
	problem := func(from, to int64, p, detail string) error {
		from = max(from, res.Next)
		if to < from {
			return nil
		}
		c.rec = Record{Offset: from, LastOffset: to, Problem: p, Detail: detail, Size: -1}
		if err := fn(&c.rec); err != nil {
			return err
		}
		res.Records++
		res.Next = to + 1
		return nil
	}
	for len(data) >= 17 {
		base := int64(binary.BigEndian.Uint64(data))
		length := int64(int32(binary.BigEndian.Uint32(data[8:])))
		if length < 0 || 12+length > int64(len(data)) {
			break // a partial batch at the end of the response
		}
		b := data[:12+length]
		data = data[12+length:]
		if len(b) < 17 {
			if err := problem(res.Next, base, ProblemCorrupt, fmt.Sprintf("record batch of %d bytes has no header", len(b))); err != nil {
				return err
			}
			continue
		}
		if magic := b[16]; magic != 2 {
			// Message sets v0/v1 name the last offset of a (wrapped) set.
			if err := problem(res.Next, base, ProblemUnsupported, fmt.Sprintf("record batch format v%d (v2 is required)", magic)); err != nil {
				return err
			}
			continue
		}
		if len(b) < batchHeaderLen {
			if err := problem(res.Next, base, ProblemCorrupt, fmt.Sprintf("record batch of %d bytes is shorter than its header", len(b))); err != nil {
				return err
			}
			continue
		}
		last := base + int64(int32(binary.BigEndian.Uint32(b[23:])))
		if last < res.Next {
			continue // before the fetch offset
		}
		if want, got := binary.BigEndian.Uint32(b[17:]), crc32.Checksum(b[21:], crcTable); want != got {
			if err := problem(base, last, ProblemCorrupt, fmt.Sprintf("record batch CRC %08x, computed %08x", want, got)); err != nil {
				return err
			}
			continue
		}
		attrs := binary.BigEndian.Uint16(b[21:])
		producer := int64(binary.BigEndian.Uint64(b[43:]))
		count := int32(binary.BigEndian.Uint32(b[57:]))
		for len(aborted) > 0 && aborted[0].FirstOffset <= last {
			if active == nil {
				active = map[int64]bool{}
			}
			active[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		transactional, control := attrs&0x10 != 0, attrs&0x20 != 0
		switch {
		case control:
			if transactional && isAbortMarker(b[batchHeaderLen:]) {
				delete(active, producer)
			}
			res.Control += int(max(count, 0))
			res.Next = last + 1
			continue
		case transactional && active[producer]:
			res.Aborted += int(max(count, 0))
			res.Next = last + 1
			continue
		}
		err := c.readRecords(b, base, last, attrs, count, res, fn)
		switch {
		case err == nil:
		case errors.Is(err, errWindowLimit):
			err = problem(res.Next, last, ProblemBatchTooLarge,
				fmt.Sprintf("record batch at %d: a zstd frame's window exceeds %d MiB", base, maxWindow>>20))
		case errors.Is(err, errBatchLimit):
			err = problem(res.Next, last, ProblemBatchTooLarge,
				fmt.Sprintf("record batch at %d decompresses to more than %d bytes", base, c.cfg.MaxBatchBytes))
		case errors.Is(err, errUnsupportedCodec):
			err = problem(res.Next, last, ProblemUnsupported, err.Error())
		case errors.Is(err, errDeliver):
			return errors.Unwrap(err)
		default:
			err = problem(res.Next, last, ProblemCorrupt, fmt.Sprintf("record batch at %d: %v", base, err))
		}
		if err != nil {
			return err
		}
		// Compaction may have removed the batch's last records.
		res.Next = max(res.Next, last+1)
	}
	return nil
}

// isAbortMarker reads the control record of an uncompressed control batch:
// its key is version int16, type int16 (0 abort, 1 commit).
func isAbortMarker(records []byte) bool {
	_, n := binary.Varint(records) // length
	if n <= 0 || len(records) < n+1 {
		return false
	}
	records = records[n+1:] // attributes
	for range 2 {           // timestamp delta, offset delta
		if _, n = binary.Varint(records); n <= 0 {
			return false
		}
		records = records[n:]
	}
	klen, n := binary.Varint(records)
	if n <= 0 || klen < 4 || int64(len(records)-n) < klen {
		return false
	}
	key := records[n:]
	return binary.BigEndian.Uint16(key[2:]) == 0
}

// errDeliver wraps an error of the callback.
var errDeliver = errors.New("callback")

type deliverError struct{ err error }

func (e deliverError) Error() string        { return e.err.Error() }
func (e deliverError) Unwrap() error        { return e.err }
func (e deliverError) Is(target error) bool { return target == errDeliver }

// readRecords streams the records of one data batch to fn.
func (c *Conn) readRecords(b []byte, base, last int64, attrs uint16, count int32, res *Result, fn func(*Record) error) error {
	body, err := c.dec.reader(int(attrs&0x07), b[batchHeaderLen:], c.cfg.MaxBatchBytes)
	if err != nil {
		return err
	}
	firstTS := int64(binary.BigEndian.Uint64(b[27:]))
	maxTS := int64(binary.BigEndian.Uint64(b[35:]))
	logAppend := attrs&0x08 != 0
	rr := &c.value
	rr.r = body
	for range max(count, 0) {
		r := &c.rec
		if err := c.readRecord(rr, r); err != nil {
			return err
		}
		r.Offset += base
		if logAppend {
			r.Time = time.UnixMilli(maxTS)
		} else {
			r.Time = time.UnixMilli(firstTS + r.Time.UnixMilli())
		}
		if r.Offset < res.Next || r.Offset > last {
			continue // before the fetch offset (a batch starts before it)
		}
		if err := fn(r); err != nil {
			return deliverError{err}
		}
		res.Records++
		res.Next = r.Offset + 1
	}
	return nil
}

// valueReader reads the fields of records from a batch body.
type valueReader struct {
	r       *bufio.Reader
	n       int64 // bytes read since the record's length field
	scratch []byte
}

func (v *valueReader) varint() (int64, error) {
	x, err := binary.ReadVarint(byteCounter{v})
	if err != nil {
		if errors.Is(err, errBatchLimit) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %v", errFraming, err)
	}
	return x, nil
}

type byteCounter struct{ v *valueReader }

func (b byteCounter) ReadByte() (byte, error) {
	c, err := b.v.r.ReadByte()
	if err == nil {
		b.v.n++
	}
	return c, err
}

func (v *valueReader) full(dst []byte) error {
	n, err := io.ReadFull(v.r, dst)
	v.n += int64(n)
	if err != nil && !errors.Is(err, errBatchLimit) {
		return fmt.Errorf("%w: %v", errFraming, err)
	}
	return err
}

// skip drops n bytes, hashing them into h when not nil.
func (v *valueReader) skip(n int64, h io.Writer) error {
	if v.scratch == nil {
		v.scratch = make([]byte, 32<<10)
	}
	for n > 0 {
		k := int(min(n, int64(len(v.scratch))))
		if err := v.full(v.scratch[:k]); err != nil {
			return err
		}
		if h != nil {
			h.Write(v.scratch[:k])
		}
		n -= int64(k)
	}
	return nil
}

// readRecord reads one record into r. r.Offset is the offset delta and
// r.Time holds the timestamp delta in milliseconds.
func (c *Conn) readRecord(v *valueReader, r *Record) error {
	*r = Record{Size: -1, KeySize: -1}
	length, err := v.varint()
	if err != nil {
		return err
	}
	v.n = 0
	if _, err := v.r.ReadByte(); err != nil { // attributes (unused)
		return fmt.Errorf("%w: %v", errFraming, err)
	}
	v.n++
	tsDelta, err := v.varint()
	if err != nil {
		return err
	}
	offDelta, err := v.varint()
	if err != nil {
		return err
	}
	r.Offset, r.Time = offDelta, time.UnixMilli(tsDelta)
	limit := c.cfg.MaxRecordBytes

	// Key: kept whole up to the record limit, else its prefix.
	klen, err := v.varint()
	if err != nil {
		return err
	}
	r.KeySize = max(klen, -1)
	if klen >= 0 {
		if klen > length {
			return fmt.Errorf("%w: key of %d bytes in a record of %d", errFraming, klen, length)
		}
		keep := klen
		if klen > int64(limit) {
			r.Oversize, r.KeyTruncated = true, true
			keep = int64(c.cfg.PrefixBytes)
		}
		r.Key = c.arena.alloc(int(keep))
		if err := v.full(r.Key); err != nil {
			return err
		}
		if err := v.skip(klen-keep, nil); err != nil {
			return err
		}
	}

	vlen, err := v.varint()
	if err != nil {
		return err
	}
	r.Size = vlen
	if vlen >= 0 {
		if vlen > length {
			return fmt.Errorf("%w: value of %d bytes in a record of %d", errFraming, vlen, length)
		}
		if vlen <= int64(limit) {
			r.Value = c.arena.alloc(int(vlen))
			if err := v.full(r.Value); err != nil {
				return err
			}
		} else {
			r.Oversize = true
			r.Value = c.arena.alloc(c.cfg.PrefixBytes)
			if err := v.full(r.Value); err != nil {
				return err
			}
			h := sha256.New()
			h.Write(r.Value)
			if err := v.skip(vlen-int64(len(r.Value)), h); err != nil {
				return err
			}
			h.Sum(r.SHA256[:0])
		}
	}

	nh, err := v.varint()
	if err != nil {
		return err
	}
	if nh < 0 || nh > length {
		return fmt.Errorf("%w: %d headers in a record of %d bytes", errFraming, nh, length)
	}
	// Each header counts with its framing (the bytes read for it), so
	// that millions of empty headers cannot pass the limit. Past it the
	// rest of the record is skipped unread.
	hstart := v.n
	for range nh {
		hk, err := v.varint()
		if err != nil {
			return err
		}
		if hk < 0 || hk > length {
			return fmt.Errorf("%w: header key of %d bytes", errFraming, hk)
		}
		if v.n-hstart+hk > int64(limit) {
			r.Oversize, r.HeadersTruncated = true, true
			break
		}
		key := c.arena.alloc(int(hk))
		if err := v.full(key); err != nil {
			return err
		}
		hv, err := v.varint()
		if err != nil {
			return err
		}
		if hv > length {
			return fmt.Errorf("%w: header value of %d bytes", errFraming, hv)
		}
		if v.n-hstart+max(hv, 0) > int64(limit) {
			r.Oversize, r.HeadersTruncated = true, true
			break
		}
		var val []byte
		if hv >= 0 {
			val = c.arena.alloc(int(hv))
			if err := v.full(val); err != nil {
				return err
			}
		}
		r.Headers = append(r.Headers, Header{Key: string(key), Value: val})
	}
	if r.HeadersTruncated {
		if v.n > length {
			return fmt.Errorf("%w: record length %d, fields take more", errFraming, length)
		}
		if err := v.skip(length-v.n, nil); err != nil {
			return err
		}
	}
	if v.n != length {
		return fmt.Errorf("%w: record length %d, fields take %d", errFraming, length, v.n)
	}
	if r.Oversize && r.SHA256 == [sha256.Size]byte{} && r.Value != nil {
		r.SHA256 = sha256.Sum256(r.Value)
	}
	return nil
}

// arena hands out slices of larger chunks: fewer allocations than one per
// field. Slices are never reused, so callers may keep them.
type arena struct{ buf []byte }

func (a *arena) alloc(n int) []byte {
	if n > 8<<10 {
		return make([]byte, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, 64<<10)
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}
