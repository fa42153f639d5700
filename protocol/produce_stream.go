package protocol

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/spool-broker/spool/protocol/wire"
)

// ProduceReader decodes a Produce request body while it is still arriving on
// the connection, one partition at a time, so a broker can validate and
// append each partition's records as soon as they are in, while they are
// still in the CPU cache, instead of first reading the whole request (up to
// socket.request.max.bytes) into memory.
//
// It is the one hand-written decoder: the generated ProduceRequest.Decode
// needs the complete frame. It follows the same layout (zz_00_produce_gen.go)
// and the same checks (null in a non-nullable field, counts the remaining
// bytes cannot hold, short input), and produce_stream_test.go decodes every
// version both ways and compares. Unknown tagged fields are skipped: Produce
// defines none, and the broker ignores them.
//
// Call Head, then NextTopic until it reports no more topics, calling
// NextPartition for each partition of the current topic, then Finish, which
// discards whatever follows the body in the frame (as ParseRequest ignores
// it). After any error the position in the stream is unknown: the connection
// must be closed. A ProduceReader is used by one goroutine.
type ProduceReader struct {
	r    *bufio.Reader
	left int // bytes of the frame not consumed yet
	v    int16
	flex bool

	topicsLeft int // topics not started yet
	partsLeft  int // partitions of the current topic not read yet
	topicTags  bool
	err        error
	readErr    bool // err came from r, not from the request's content
	finished   bool // Finish succeeded: r is at the next frame
	scratch    [8]byte
}

// NewProduceReader returns a reader for a Produce body of size bytes at
// version v, which r yields next.
func NewProduceReader(r *bufio.Reader, size int, v int16) (*ProduceReader, error) {
	if v < 0 || v > 13 {
		return nil, unsupported("ProduceRequest", v)
	}
	return &ProduceReader{r: r, left: size, v: v, flex: v >= 9}, nil
}

// ProduceHead is what a Produce request says before its topic data.
type ProduceHead struct {
	TransactionalID *TransactionalID // v3+, nullable
	Acks            int16
	TimeoutMs       int32
}

// Head reads the fields before the topic data.
func (p *ProduceReader) Head() (ProduceHead, error) {
	var h ProduceHead
	if p.v >= 3 {
		s, ok := p.string()
		if ok {
			id := TransactionalID(s)
			h.TransactionalID = &id
		}
	}
	h.Acks = int16(p.uint(2))
	h.TimeoutMs = int32(p.uint(4))
	p.topicsLeft = p.arrayLen(3)
	return h, p.fail()
}

// ProduceTopic is one topic of the request; its partitions follow.
type ProduceTopic struct {
	Name       TopicName // v0-12
	TopicID    UUID      // v13
	Partitions int
}

// NextTopic reads the next topic's fields. ok is false when the request has
// no more topics. Every partition of the previous topic must have been read.
func (p *ProduceReader) NextTopic() (t ProduceTopic, ok bool, err error) {
	if p.err != nil {
		return t, false, p.fail()
	}
	if p.partsLeft > 0 {
		return t, false, fmt.Errorf("protocol: ProduceReader: %d partitions of the topic not read", p.partsLeft)
	}
	if p.topicTags {
		p.skipTags()
		p.topicTags = false
	}
	if p.topicsLeft <= 0 {
		return t, false, p.fail()
	}
	p.topicsLeft--
	if p.v <= 12 {
		s, ok := p.string()
		if !ok && p.err == nil {
			p.err = ErrNullField
		}
		t.Name = TopicName(s)
	}
	if p.v >= 13 {
		p.read(t.TopicID[:])
	}
	t.Partitions = p.arrayLen(6)
	p.partsLeft, p.topicTags = t.Partitions, p.flex
	return t, p.err == nil, p.fail()
}

// NextPartition reads the next partition of the current topic. Its records
// (nil when null) are read into buf(n), which must return a slice of length
// n; they are valid until buf is asked again.
func (p *ProduceReader) NextPartition(buf func(n int) []byte) (index int32, records []byte, err error) {
	if p.err == nil && p.partsLeft <= 0 {
		return 0, nil, fmt.Errorf("protocol: ProduceReader: no partition left in the topic")
	}
	p.partsLeft--
	index = int32(p.uint(4))
	n := -1
	if p.flex {
		if u := p.uvarint(); u > 0 {
			n = int(u) - 1
		}
	} else {
		n = int(int32(p.uint(4)))
		if n < -1 && p.err == nil {
			p.err = wire.ErrInvalid
		}
	}
	if n >= 0 && p.err == nil {
		if n > p.left {
			p.err = wire.ErrShort
		} else {
			records = buf(n)[:n]
			p.read(records)
		}
	}
	if p.flex {
		p.skipTags()
	}
	if err := p.fail(); err != nil {
		return 0, nil, err
	}
	return index, records, nil
}

// Finish reads the request's tagged fields and discards any bytes after the
// body, leaving the reader at the next frame.
func (p *ProduceReader) Finish() error {
	if p.err == nil && (p.topicsLeft > 0 || p.partsLeft > 0) {
		return fmt.Errorf("protocol: ProduceReader: topic data not read to the end")
	}
	if p.topicTags {
		p.skipTags()
		p.topicTags = false
	}
	if p.flex {
		p.skipTags()
	}
	p.discard(p.left)
	p.finished = p.err == nil
	return p.fail()
}

// Finished reports whether Finish succeeded, leaving r at the next frame.
func (p *ProduceReader) Finished() bool { return p.finished }

// ReadFailed reports whether reading from r failed (the connection ended
// or timed out), as opposed to the request being malformed.
func (p *ProduceReader) ReadFailed() bool { return p.readErr }

// fail wraps the first error the way ParseRequest does.
func (p *ProduceReader) fail() error {
	if p.err == nil {
		return nil
	}
	return fmt.Errorf("protocol: Produce v%d request: %w", p.v, p.err)
}

// read fills b from the frame.
func (p *ProduceReader) read(b []byte) {
	if p.err != nil {
		return
	}
	if len(b) > p.left {
		p.err = wire.ErrShort
		return
	}
	n, err := io.ReadFull(p.r, b)
	p.left -= n
	if err != nil {
		p.ioFail(err)
	}
}

func (p *ProduceReader) discard(n int) {
	if p.err != nil {
		return
	}
	if n > p.left {
		p.err = wire.ErrShort
		return
	}
	d, err := p.r.Discard(n)
	p.left -= d
	if err != nil {
		p.ioFail(err)
	}
}

// ioFail records an error of r. A connection that ends mid-frame is
// io.ErrUnexpectedEOF, not a malformed request.
func (p *ProduceReader) ioFail(err error) {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	p.err, p.readErr = err, true
}

// uint reads a big-endian integer of n (2 or 4) bytes.
func (p *ProduceReader) uint(n int) uint32 {
	b := p.scratch[:n]
	p.read(b)
	if p.err != nil {
		return 0
	}
	if n == 2 {
		return uint32(binary.BigEndian.Uint16(b))
	}
	return binary.BigEndian.Uint32(b)
}

// uvarint reads an UNSIGNED_VARINT that must fit in 32 bits, with the
// checks of wire.Reader.Uvarint (binary.Uvarint's overflow rules).
func (p *ProduceReader) uvarint() uint32 {
	if p.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for i := range binary.MaxVarintLen64 {
		if p.left == 0 {
			p.err = wire.ErrShort
			return 0
		}
		c, err := p.r.ReadByte()
		if err != nil {
			p.ioFail(err)
			return 0
		}
		p.left--
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			v |= uint64(c) << shift
			if v > math.MaxUint32 {
				break
			}
			return uint32(v)
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	p.err = wire.ErrInvalid
	return 0
}

// string reads a (compact) nullable string; ok is false for null.
func (p *ProduceReader) string() (string, bool) {
	n := -1
	if p.flex {
		if u := p.uvarint(); u > 0 {
			n = int(u) - 1
		}
	} else {
		n = int(int16(p.uint(2)))
		if n < -1 && p.err == nil {
			p.err = wire.ErrInvalid
		}
	}
	if n < 0 || p.err != nil {
		return "", false
	}
	if n > p.left {
		p.err = wire.ErrShort
		return "", false
	}
	b := make([]byte, n)
	p.read(b)
	if p.err != nil {
		return "", false
	}
	return string(b), true
}

// arrayLen reads a non-nullable (compact) array count that the remaining
// bytes can hold at minElem bytes an element.
func (p *ProduceReader) arrayLen(minElem int) int {
	var n int
	if p.flex {
		n = int(p.uvarint()) - 1
	} else {
		n = int(int32(p.uint(4)))
	}
	switch {
	case p.err != nil:
		return 0
	case n == -1:
		p.err = ErrNullField
	case n < -1 || n > 0 && n > p.left/minElem:
		p.err = wire.ErrInvalid
	default:
		return n
	}
	return 0
}

// skipTags skips a tagged-field section.
func (p *ProduceReader) skipTags() {
	for n := p.uvarint(); n > 0 && p.err == nil; n-- {
		p.uvarint() // tag
		p.discard(int(p.uvarint()))
	}
}
