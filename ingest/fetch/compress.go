package fetch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

var errUnsupportedCodec = errors.New("unsupported compression codec")

// maxSnappyBlock bounds one snappy block, which is decoded whole (the
// format has no streaming decoder): xerial chunks are 32 KiB, and a raw
// block of a 1 MiB batch expands at most about 21 times.
const maxSnappyBlock = 64 << 20

// decompressors are the streaming decoders of one Conn, made on first use
// and reset per batch.
type decompressors struct {
	src  bytes.Reader
	lim  limitReader
	buf  *bufio.Reader
	gz   *gzip.Reader
	lz   *lz4.Reader
	zs   *zstd.Decoder
	sn   xerialReader
	none bool
}

func (d *decompressors) close() {
	if d.zs != nil {
		d.zs.Close()
		d.zs = nil
	}
	d.sn.buf = nil
}

// reader returns a reader of the decompressed body src that fails with
// errBatchLimit after limit bytes.
func (d *decompressors) reader(codec int, src []byte, limit int64) (*bufio.Reader, error) {
	d.src.Reset(src)
	var r io.Reader
	switch codec {
	case 0:
		r = &d.src
	case 1:
		if d.gz == nil {
			d.gz = new(gzip.Reader)
		}
		if err := d.gz.Reset(&d.src); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = d.gz
	case 2:
		d.sn.reset(src)
		r = &d.sn
	case 3:
		if d.lz == nil {
			d.lz = lz4.NewReader(&d.src)
		} else {
			d.lz.Reset(&d.src)
		}
		r = d.lz
	case 4:
		if d.zs == nil {
			zs, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(maxWindow))
			if err != nil {
				return nil, err
			}
			d.zs = zs
		}
		if err := d.zs.Reset(&d.src); err != nil {
			if errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return nil, errWindowLimit
			}
			return nil, fmt.Errorf("zstd: %w", err)
		}
		r = d.zs
	default:
		return nil, fmt.Errorf("%w %d", errUnsupportedCodec, codec)
	}
	d.lim = limitReader{r: r, left: limit}
	if d.buf == nil {
		d.buf = bufio.NewReaderSize(&d.lim, 32<<10)
	} else {
		d.buf.Reset(&d.lim)
	}
	return d.buf, nil
}

// limitReader fails with errBatchLimit once more than left bytes were read,
// and with errWindowLimit when a zstd frame asks for a window over the cap.
type limitReader struct {
	r    io.Reader
	left int64
}

// errWindowLimit is a batch the decoder will not read because of its zstd
// window: too large to read, like one over the decompressed limit.
var errWindowLimit = fmt.Errorf("%w: zstd window exceeds %d MiB", errBatchLimit, maxWindow>>20)

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.read(p)
	if err != nil && errors.Is(err, zstd.ErrWindowSizeExceeded) {
		err = errWindowLimit
	}
	return n, err
}

func (l *limitReader) read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly the limit from a larger one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errBatchLimit
		}
		return l.r.Read(p)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// xerialMagic starts snappy bodies in the framing of the Java snappy
// library (xerial), which Kafka's producers write: magic, version and
// compatible version, then chunks of int32 length + snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialReader decodes a Kafka snappy body chunk by chunk: xerial-framed,
// or one raw snappy block.
type xerialReader struct {
	src []byte // chunks not yet decoded
	out []byte // decoded, not yet read
	raw bool
	buf []byte
}

func (x *xerialReader) reset(src []byte) {
	x.out = nil
	if len(src) >= 16 && bytes.Equal(src[:8], xerialMagic) {
		x.src, x.raw = src[16:], false
	} else {
		x.src, x.raw = src, true
	}
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		var block []byte
		if x.raw {
			block, x.src = x.src, nil
		} else {
			if len(x.src) < 4 {
				return 0, errors.New("snappy: truncated xerial chunk length")
			}
			n := int(binary.BigEndian.Uint32(x.src))
			if n < 0 || n > len(x.src)-4 {
				return 0, fmt.Errorf("snappy: xerial chunk of %d bytes, %d left", n, len(x.src)-4)
			}
			block, x.src = x.src[4:4+n], x.src[4+n:]
		}
		dl, err := snappy.DecodedLen(block)
		if err != nil {
			return 0, fmt.Errorf("snappy: %w", err)
		}
		if dl > maxSnappyBlock {
			return 0, errBatchLimit
		}
		if cap(x.buf) < dl {
			x.buf = make([]byte, dl)
		}
		if x.out, err = snappy.Decode(x.buf[:dl], block); err != nil {
			return 0, fmt.Errorf("snappy: %w", err)
		}
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}
