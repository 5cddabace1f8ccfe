package fetch

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type trec struct {
	key, value []byte
	headers    []Header
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

// buildBatch encodes a record batch v2 the way a producer does.
func buildBatch(base int64, attrs uint16, producer int64, recs []trec, compress func([]byte) []byte) []byte {
	var body []byte
	for i, r := range recs {
		rb := []byte{0}
		rb = binary.AppendVarint(rb, int64(i)) // timestamp delta
		rb = binary.AppendVarint(rb, int64(i)) // offset delta
		rb = appendBytes(rb, r.key)
		rb = appendBytes(rb, r.value)
		rb = binary.AppendVarint(rb, int64(len(r.headers)))
		for _, h := range r.headers {
			rb = appendBytes(rb, []byte(h.Key))
			rb = appendBytes(rb, h.Value)
		}
		body = append(binary.AppendVarint(body, int64(len(rb))), rb...)
	}
	if compress != nil {
		body = compress(body)
	}
	b := make([]byte, batchHeaderLen, batchHeaderLen+len(body))
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(batchHeaderLen-12+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], attrs)
	binary.BigEndian.PutUint32(b[23:], uint32(len(recs)-1))
	binary.BigEndian.PutUint64(b[27:], 1_764_000_000_000)
	binary.BigEndian.PutUint64(b[35:], 1_764_000_000_000+uint64(len(recs)))
	binary.BigEndian.PutUint64(b[43:], uint64(producer))
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(len(recs)))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crcTable))
	return b
}

func controlBatch(base int64, producer int64, commit bool) []byte {
	typ := byte(0)
	if commit {
		typ = 1
	}
	return buildBatch(base, 0x30, producer, []trec{{key: []byte{0, 0, 0, typ}, value: []byte{0, 0, 0, 0, 0, 1}}}, nil)
}

var codecs = map[string]struct {
	attr     uint16
	compress func([]byte) []byte
}{
	"none": {0, nil},
	"gzip": {1, func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}},
	"snappy-raw": {2, func(b []byte) []byte { return snappy.Encode(nil, b) }},
	"snappy-xerial": {2, func(b []byte) []byte {
		out := append([]byte(nil), xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1)
		out = binary.BigEndian.AppendUint32(out, 1)
		for len(b) > 0 {
			chunk := b[:min(len(b), 32<<10)]
			b = b[len(chunk):]
			enc := snappy.Encode(nil, chunk)
			out = append(binary.BigEndian.AppendUint32(out, uint32(len(enc))), enc...)
		}
		return out
	}},
	"lz4": {3, func(b []byte) []byte {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}},
	"zstd": {4, func(b []byte) []byte {
		e, _ := zstd.NewWriter(nil)
		defer e.Close()
		return e.EncodeAll(b, nil)
	}},
}

func testConn(cfg Config) *Conn { return &Conn{cfg: cfg.withDefaults()} }

func collect(t *testing.T, c *Conn, data []byte, from int64, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) ([]Record, Result) {
	t.Helper()
	res := Result{Next: from}
	var got []Record
	if err := c.readBatches(data, aborted, &res, func(r *Record) error { got = append(got, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return got, res
}

// TestCodecs: every codec streams the records of a batch, keeps an
// oversize value's prefix and hashes the whole of it.
func TestCodecs(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 30_000) // 300 kB > 256 KiB
	recs := []trec{
		{key: []byte("k0"), value: []byte(`{"a":1}`), headers: []Header{{"h", []byte("v")}}},
		{key: []byte("k1"), value: big},
		{key: nil, value: nil},
	}
	for name, cd := range codecs {
		t.Run(name, func(t *testing.T) {
			data := append(buildBatch(10, cd.attr, -1, recs, cd.compress), buildBatch(13, cd.attr, -1, recs[:1], cd.compress)...)
			got, res := collect(t, testConn(Config{}), data, 10, nil)
			if len(got) != 4 || res.Next != 14 || res.Records != 4 {
				t.Fatalf("%d records, next %d: %+v", len(got), res.Next, res)
			}
			r := got[0]
			if r.Offset != 10 || string(r.Key) != "k0" || string(r.Value) != `{"a":1}` || r.Oversize || len(r.Headers) != 1 ||
				r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "v" || r.Time.UnixMilli() != 1_764_000_000_000 {
				t.Errorf("record 0: %+v", r)
			}
			r = got[1]
			if r.Offset != 11 || !r.Oversize || r.Size != int64(len(big)) || r.SHA256 != sha256.Sum256(big) ||
				!bytes.Equal(r.Value, big[:DefaultPrefixBytes]) {
				t.Errorf("record 1: offset %d oversize %v size %d value %d bytes", r.Offset, r.Oversize, r.Size, len(r.Value))
			}
			if r = got[2]; r.Offset != 12 || r.Key != nil || r.Value != nil || r.Size != -1 {
				t.Errorf("record 2: %+v", r)
			}
			if got[3].Offset != 13 {
				t.Errorf("record 3 at %d", got[3].Offset)
			}
		})
	}
}

// TestTransactions: committed transactional data is delivered, aborted
// data and both markers are skipped, and Next passes them all.
func TestTransactions(t *testing.T) {
	one := []trec{{key: []byte("k"), value: []byte("a")}, {key: []byte("k"), value: []byte("b")}}
	var data []byte
	data = append(data, buildBatch(0, 0x10, 7, one, nil)...) // 0-1, producer 7
	data = append(data, controlBatch(2, 7, true)...)         // 2: commit 7
	data = append(data, buildBatch(3, 0x10, 8, one, nil)...) // 3-4, producer 8
	data = append(data, buildBatch(5, 0x10, 7, one, nil)...) // 5-6, producer 7 again
	data = append(data, controlBatch(7, 8, false)...)        // 7: abort 8
	data = append(data, controlBatch(8, 7, true)...)         // 8: commit 7
	data = append(data, buildBatch(9, 0x10, 8, one, nil)...) // 9-10, producer 8, a new transaction
	data = append(data, controlBatch(11, 8, true)...)        // 11: commit 8
	aborted := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 8, FirstOffset: 3}}
	got, res := collect(t, testConn(Config{}), data, 0, aborted)
	var offs []int64
	for _, r := range got {
		offs = append(offs, r.Offset)
	}
	if want := []int64{0, 1, 5, 6, 9, 10}; !slicesEqual(offs, want) {
		t.Errorf("delivered offsets %v, want %v", offs, want)
	}
	if res.Next != 12 || res.Control != 4 || res.Aborted != 2 {
		t.Errorf("result %+v, want next 12, 4 markers, 2 aborted", res)
	}

	// A fetch of markers and aborted data only still moves on.
	data = append(buildBatch(3, 0x10, 8, one, nil), controlBatch(5, 8, false)...)
	got, res = collect(t, testConn(Config{}), data, 3, aborted)
	if len(got) != 0 || res.Next != 6 {
		t.Errorf("%d records, next %d; want none, next 6", len(got), res.Next)
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProblems: a fetch offset inside a batch, a wrong CRC, a batch over
// the decompressed limit and a partial batch at the end.
func TestProblems(t *testing.T) {
	three := []trec{{value: []byte("a")}, {value: []byte("b")}, {value: []byte("c")}}
	good := buildBatch(0, 0, -1, three, nil)
	bad := buildBatch(3, 0, -1, three, nil)
	bad[len(bad)-1] ^= 0xff
	after := buildBatch(6, 0, -1, three, nil)
	data := append(append(append([]byte(nil), good...), bad...), after...)
	data = append(data, after[:20]...) // partial
	got, res := collect(t, testConn(Config{}), data, 1, nil)
	if len(got) != 6 || got[0].Offset != 1 || got[2].Problem != ProblemCorrupt || got[2].Offset != 3 || got[2].LastOffset != 5 ||
		got[3].Offset != 6 || res.Next != 9 {
		t.Errorf("records %+v, next %d", got, res.Next)
	}

	zs := codecs["zstd"]
	bomb := buildBatch(0, zs.attr, -1, []trec{{value: make([]byte, 1<<20)}, {value: []byte("x")}}, zs.compress)
	got, res = collect(t, testConn(Config{MaxRecordBytes: 1024, MaxBatchBytes: 64 << 10}), bomb, 0, nil)
	if len(got) != 1 || got[0].Problem != ProblemBatchTooLarge || got[0].LastOffset != 1 || res.Next != 2 ||
		!strings.Contains(got[0].Detail, "65536") {
		t.Errorf("bomb: %+v, next %d", got, res.Next)
	}
}

// FuzzReadBatches: any response body is read without a panic, and Next
// never goes back.
func FuzzReadBatches(f *testing.F) {
	for _, cd := range codecs {
		f.Add(buildBatch(0, cd.attr, -1, []trec{{key: []byte("k"), value: []byte("v"), headers: []Header{{"a", nil}}}}, cd.compress))
	}
	f.Add(controlBatch(0, 1, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := testConn(Config{MaxRecordBytes: 64, PrefixBytes: 16, MaxBatchBytes: 1 << 20})
		res := Result{Next: 0}
		aborted := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 1, FirstOffset: 0}}
		last := int64(0)
		_ = c.readBatches(data, aborted, &res, func(r *Record) error {
			if r.Offset < last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			last = r.Offset
			return nil
		})
		if res.Next < 0 {
			t.Fatalf("next %d", res.Next)
		}
	})
}

// TestOversizeKeyAndHeaders: a key or headers over MaxRecordBytes make the
// record oversize; the key is cut to the prefix, headers past the limit are
// dropped, and the value (small) is whole with its digest.
func TestOversizeKeyAndHeaders(t *testing.T) {
	cfg := Config{MaxRecordBytes: 100, PrefixBytes: 10}
	long := bytes.Repeat([]byte("k"), 500)
	data := buildBatch(0, 0, -1, []trec{
		{key: long, value: []byte("v")},
		{key: []byte("k"), value: []byte("v"), headers: []Header{{"a", []byte("1")}, {"b", bytes.Repeat([]byte("x"), 200)}, {"c", nil}}},
	}, nil)
	got, res := collect(t, testConn(cfg), data, 0, nil)
	if len(got) != 2 || res.Next != 2 {
		t.Fatalf("%d records, next %d", len(got), res.Next)
	}
	if r := got[0]; !r.Oversize || !r.KeyTruncated || r.KeySize != 500 || !bytes.Equal(r.Key, long[:10]) || string(r.Value) != "v" || r.SHA256 != sha256.Sum256([]byte("v")) {
		t.Errorf("long key: %+v", r)
	}
	if r := got[1]; !r.Oversize || !r.HeadersTruncated || r.KeyTruncated || r.KeySize != 1 || len(r.Headers) != 1 || r.Headers[0].Key != "a" || string(r.Value) != "v" {
		t.Errorf("long headers: %+v", r)
	}
}

// TestManyEmptyHeaders: a record of millions of headers with an empty key
// and a null value (2 bytes each, a few KB after zstd) is oversize with its
// headers truncated, without materialising them: each header's framing
// counts toward MaxRecordBytes.
func TestManyEmptyHeaders(t *testing.T) {
	const n = 4 << 20
	rb := []byte{0, 0, 0} // attributes, timestamp delta, offset delta
	rb = appendBytes(rb, []byte("k"))
	rb = appendBytes(rb, []byte("v"))
	rb = binary.AppendVarint(rb, n)
	for range n {
		rb = append(rb, 0, 1) // key length 0, value length -1
	}
	body := append(binary.AppendVarint(nil, int64(len(rb))), rb...)
	zs := codecs["zstd"]
	z := zs.compress(body)
	data := buildBatch(0, zs.attr, -1, []trec{{value: []byte("x")}}, nil) // framing to patch
	data = append(data[:batchHeaderLen:batchHeaderLen], z...)
	binary.BigEndian.PutUint32(data[8:], uint32(len(data)-12))
	binary.BigEndian.PutUint16(data[21:], zs.attr)
	binary.BigEndian.PutUint32(data[17:], crc32.Checksum(data[21:], crcTable))
	t.Logf("%d headers: %d bytes raw, %d compressed", n, len(body), len(z))
	rb, body = nil, nil

	c := testConn(Config{MaxRecordBytes: 256 << 10, PrefixBytes: 1 << 10, MaxBatchBytes: 32 << 20})
	var got []Record
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	res := Result{}
	err := c.readBatches(data, nil, &res, func(r *Record) error { got = append(got, *r); return nil })
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || res.Next != 1 {
		t.Fatalf("%d records, next %d", len(got), res.Next)
	}
	r := got[0]
	if !r.Oversize || !r.HeadersTruncated || string(r.Key) != "k" || string(r.Value) != "v" {
		t.Errorf("record: oversize %v, headers truncated %v, key %q, value %q", r.Oversize, r.HeadersTruncated, r.Key, r.Value)
	}
	if len(r.Headers) > 256<<10/2 {
		t.Errorf("%d headers kept, the limit allows at most %d", len(r.Headers), 256<<10/2)
	}
	// The decoder's own buffers (zstd window, reader) take a few MB; the
	// headers would take hundreds.
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading the record allocated %d MB", alloc>>20)
	} else {
		t.Logf("reading the record allocated %d MB, kept %d headers", alloc>>20, len(r.Headers))
	}
}

// TestZstdWindowOversize: a zstd frame whose window exceeds the decoder's
// cap is a batch too large to read (oversize), not a corrupt one.
func TestZstdWindowOversize(t *testing.T) {
	body := buildBatch(0, 0, -1, []trec{{key: []byte("k"), value: []byte("v")}, {value: []byte("w")}}, nil)[batchHeaderLen:]
	// A frame of one raw block under a window descriptor of 64 MiB
	// (exponent 16: window log 26), twice the cap.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 16 << 3}
	bh := uint32(len(body))<<3 | 1 // last block, raw
	frame = append(frame, byte(bh), byte(bh>>8), byte(bh>>16))
	frame = append(frame, body...)
	var buf bytes.Buffer
	buf.Write(frame)
	zs := codecs["zstd"]
	data := buildBatch(0, zs.attr, -1, []trec{{value: []byte("v")}, {value: []byte("w")}}, func([]byte) []byte { return buf.Bytes() })
	got, res := collect(t, testConn(Config{}), data, 0, nil)
	if len(got) != 1 || got[0].Problem != ProblemBatchTooLarge || got[0].LastOffset != 1 || res.Next != 2 ||
		!strings.Contains(got[0].Detail, "window") {
		t.Errorf("records %+v, next %d", got, res.Next)
	}
}
