package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge is returned when a compressed payload would decompress past the
// caller's bound. It wraps ErrCorrupt: to the broker a decompression bomb is a
// corrupt message.
var ErrTooLarge = fmt.Errorf("%w: decompressed size exceeds limit", ErrCorrupt)

// ErrUnsupportedCompression is returned for codec numbers Kafka does not
// define (5-7), or zstd inside a legacy message.
var ErrUnsupportedCompression = errors.New("records: unsupported compression type")

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// xerialMagic starts a snappy payload in xerial framing (snappy-java's
// SnappyOutputStream), which is what the Java client produces.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = 16
	// xerialBlockSize is snappy-java's default block: uncompressed bytes
	// per chunk.
	xerialBlockSize = 32 << 10
	// zstdMaxWindow bounds the history a zstd frame may demand. Producers use
	// levels whose window is a few MiB; a frame asking for more is hostile.
	zstdMaxWindow = 64 << 20
)

// appendWriter is an io.Writer that appends to b, so encoders can write
// straight into the caller's dst.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type gzipWriter struct {
	w   *gzip.Writer
	out appendWriter
}

type lz4Writer struct {
	w   *lz4.Writer
	out appendWriter
}

// Decoders carry their own bytes.Reader so that resetting them onto a new
// input does not allocate.
type gzipReader struct {
	r   gzip.Reader
	src bytes.Reader
}

type lz4Reader struct {
	r   *lz4.Reader
	src bytes.Reader
}

type zstdReader struct {
	d   *zstd.Decoder
	src bytes.Reader
}

var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
		return &gzipWriter{w: w}
	}}
	lz4Writers = sync.Pool{New: func() any {
		w := lz4.NewWriter(nil)
		// Kafka's Java client writes 64 KiB blocks without block checksums.
		_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ConcurrencyOption(1))
		return &lz4Writer{w: w}
	}}
	gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}
	lz4Readers  = sync.Pool{New: func() any {
		r := lz4.NewReader(nil)
		_ = r.Apply(lz4.ConcurrencyOption(1))
		return &lz4Reader{r: r}
	}}
	// zstd decoders allocate large tables, so they are pooled. Concurrency 1
	// makes stream decoding synchronous: no goroutines outlive a pooled
	// decoder that the GC drops.
	zstdReaders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil
		}
		return &zstdReader{d: d}
	}}

	zstdEncoderOnce sync.Once
	zstdEncoder     *zstd.Encoder // EncodeAll is safe for concurrent use
	zstdEncoderErr  error
)

// Compress appends src compressed with codec to dst. CompressionNone appends
// src unchanged. Snappy is written in xerial framing, like the Java client.
func Compress(dst []byte, codec Compression, src []byte) ([]byte, error) {
	switch codec {
	case CompressionNone:
		return append(dst, src...), nil
	case CompressionGzip:
		gw := gzipWriters.Get().(*gzipWriter)
		defer gzipWriters.Put(gw)
		gw.out.b = dst
		gw.w.Reset(&gw.out)
		if _, err := gw.w.Write(src); err != nil {
			return dst, fmt.Errorf("records: gzip: %w", err)
		}
		if err := gw.w.Close(); err != nil {
			return dst, fmt.Errorf("records: gzip: %w", err)
		}
		dst, gw.out.b = gw.out.b, nil
		return dst, nil
	case CompressionSnappy:
		return appendXerial(dst, src), nil
	case CompressionLZ4:
		lw := lz4Writers.Get().(*lz4Writer)
		defer lz4Writers.Put(lw)
		lw.out.b = dst
		lw.w.Reset(&lw.out)
		if _, err := lw.w.Write(src); err != nil {
			return dst, fmt.Errorf("records: lz4: %w", err)
		}
		if err := lw.w.Close(); err != nil {
			return dst, fmt.Errorf("records: lz4: %w", err)
		}
		dst, lw.out.b = lw.out.b, nil
		return dst, nil
	case CompressionZstd:
		zstdEncoderOnce.Do(func() {
			zstdEncoder, zstdEncoderErr = zstd.NewWriter(nil,
				zstd.WithEncoderLevel(zstd.SpeedDefault),
				zstd.WithZeroFrames(true))
		})
		if zstdEncoderErr != nil {
			return dst, fmt.Errorf("records: zstd: %w", zstdEncoderErr)
		}
		return zstdEncoder.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: %d", ErrUnsupportedCompression, codec)
}

// appendXerial appends src as xerial-framed snappy.
func appendXerial(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // compatible version
	for len(src) > 0 {
		n := min(len(src), xerialBlockSize)
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		need := snappy.MaxEncodedLen(n)
		if cap(dst)-len(dst) < need {
			dst = append(dst[:len(dst):len(dst)], make([]byte, need)...)[:len(dst)]
		}
		block := snappy.Encode(dst[len(dst):len(dst)+need], src[:n])
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(block)))
		dst = dst[:len(dst)+len(block)]
		src = src[n:]
	}
	return dst
}

// Decompress appends the decompression of src to dst. It fails with an error
// wrapping ErrTooLarge if the output would exceed maxSize bytes, and never grows
// dst by more than maxSize bytes. Malformed input wraps ErrCorrupt.
func Decompress(dst []byte, codec Compression, src []byte, maxSize int) ([]byte, error) {
	if maxSize < 0 {
		maxSize = 0
	}
	switch codec {
	case CompressionNone:
		if len(src) > maxSize {
			return dst, ErrTooLarge
		}
		return append(dst, src...), nil
	case CompressionGzip:
		gr := gzipReaders.Get().(*gzipReader)
		defer gzipReaders.Put(gr)
		gr.src.Reset(src)
		if err := gr.r.Reset(&gr.src); err != nil {
			return dst, wrapCodecErr("gzip", err)
		}
		out, err := readBounded(dst, &gr.r, maxSize)
		gr.src.Reset(nil)
		if err != nil {
			return dst, wrapCodecErr("gzip", err)
		}
		return out, nil
	case CompressionSnappy:
		out, err := decodeSnappy(dst, src, maxSize)
		if err != nil {
			return dst, wrapCodecErr("snappy", err)
		}
		return out, nil
	case CompressionLZ4:
		lr := lz4Readers.Get().(*lz4Reader)
		defer lz4Readers.Put(lr)
		lr.src.Reset(src)
		lr.r.Reset(&lr.src)
		out, err := readBounded(dst, lr.r, maxSize)
		lr.src.Reset(nil)
		if err != nil {
			return dst, wrapCodecErr("lz4", err)
		}
		return out, nil
	case CompressionZstd:
		zr, _ := zstdReaders.Get().(*zstdReader)
		if zr == nil {
			return dst, fmt.Errorf("records: zstd: cannot create decoder")
		}
		defer zstdReaders.Put(zr)
		zr.src.Reset(src)
		if err := zr.d.Reset(&zr.src); err != nil {
			return dst, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		out, err := readBounded(dst, zr.d, maxSize)
		zr.src.Reset(nil)
		_ = zr.d.Reset(nil)
		if err != nil {
			return dst, wrapCodecErr("zstd", err)
		}
		return out, nil
	}
	return dst, fmt.Errorf("%w: %d", ErrUnsupportedCompression, codec)
}

func wrapCodecErr(codec string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("records: %s: %w", codec, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, codec, err)
}

// readBounded appends everything r yields to dst, failing with ErrTooLarge
// once more than maxSize bytes arrive. The buffer grows geometrically but never
// past len(dst)+maxSize.
func readBounded(dst []byte, r io.Reader, maxSize int) ([]byte, error) {
	limit := len(dst) + maxSize
	for {
		if len(dst) == limit {
			return dst, probeEOF(r)
		}
		if len(dst) == cap(dst) {
			grow := max(cap(dst), 4096)
			grow = min(grow, limit-len(dst))
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// probeEOF checks that a reader that has produced exactly the limit has
// nothing more to give.
func probeEOF(r io.Reader) error {
	var one [1]byte
	for range 64 {
		n, err := r.Read(one[:])
		if n > 0 {
			return ErrTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: decoder makes no progress", ErrCorrupt)
}

// decodeSnappy decodes raw snappy or xerial-framed snappy.
func decodeSnappy(dst, src []byte, maxSize int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return decodeSnappyBlock(dst, src, maxSize)
	}
	if len(src) < xerialHeaderSize {
		return dst, fmt.Errorf("%w: short xerial header", ErrCorrupt)
	}
	limit := len(dst) + maxSize
	for rest := src[xerialHeaderSize:]; len(rest) > 0; {
		if len(rest) < 4 {
			return dst, fmt.Errorf("%w: truncated xerial chunk length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return dst, fmt.Errorf("%w: xerial chunk of %d bytes, %d left", ErrCorrupt, n, len(rest))
		}
		var err error
		if dst, err = decodeSnappyBlock(dst, rest[:n], limit-len(dst)); err != nil {
			return dst, err
		}
		rest = rest[n:]
	}
	return dst, nil
}

func decodeSnappyBlock(dst, block []byte, maxSize int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if n > maxSize {
		return dst, ErrTooLarge
	}
	if cap(dst)-len(dst) < n {
		dst = append(dst[:len(dst):len(dst)], make([]byte, n)...)[:len(dst)]
	}
	out, err := snappy.Decode(dst[len(dst):len(dst)+n], block)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return dst[:len(dst)+len(out)], nil
}
