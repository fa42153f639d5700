package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/wire"
	"github.com/spool-broker/spool/storage"
)

// Fetched records never pass through the encoded response. A Fetch response
// is sent as its encoded bytes with the records spliced in from the segment
// files, the way Kafka's FetchResponse is a list of sends:
//
//	out:     | size | header, topics, partition 0 fields, len |  tags, partition 1 ... len |  tags ... |
//	records:                                                  ^ at                          ^ at
//	                                                          regions of partition 0        regions of partition 1
//
// The frame's size prefix counts the records. On a TCP connection the writer
// sends each region with sendfile(2) from the pinned segment file at an
// explicit offset; elsewhere (net.Pipe in tests, TLS some day) and for
// small regions it preads the region into a pooled buffer and writes it in
// the same writev as the bytes around it: one copy, not the two of reading
// records into a buffer and then appending them to the response.

// outRecords is one records field of a response, sent from segment files.
type outRecords struct {
	// regions are pinned (storage.Region.Pin); finish unpins them.
	regions []storage.Region
	size    int
	// at is the position in inflight.out after which the records go: the
	// field's length prefix ends there.
	at int
}

// errRecordsTruncated means a segment file was shorter than a region taken
// from it: the log was truncated while the response waited. The frame's
// size already promised the bytes, so the connection must close, as Kafka
// closes it.
var errRecordsTruncated = errors.New("segment file truncated under a queued fetch response")

// errSendfileUnsupported means the socket or file refuses sendfile(2); the
// writer copies instead, from where sendfile stopped.
var errSendfileUnsupported = errors.New("sendfile not supported for this connection")

// encodeWithRecords encodes resp as f's response frame, leaving out the
// records of f.records, whose fields mark (set by the handler) switches
// between nil (false) and empty (true).
//
// It encodes twice, records fields all nil and then all empty: both frames
// have the same length and differ exactly where those fields' length
// prefixes are (int32 -1 vs 0, or compact uvarint 0 vs 1). Each such run is
// replaced by the length of its records, whose position is remembered. The
// generated encoder stays the only encoder, whatever its field order; a
// records field inside a tagged field would break the sizes and is rejected
// by the run check.
func (c *conn) encodeWithRecords(f *inflight, v int16, resp protocol.Response, mark func(empty bool)) error {
	key, corr := f.hdr.RequestAPIKey, f.hdr.CorrelationID
	mark(false)
	a, err := protocol.AppendResponse(c.s.getResp(f.respSizeHint), corr, key, v, resp)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", apiName(key), err)
	}
	defer c.s.putResp(a)
	mark(true)
	b, err := protocol.AppendResponse(c.s.getResp(len(a)), corr, key, v, resp)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", apiName(key), err)
	}
	defer c.s.putResp(b)
	out, err := spliceRecords(c.s.getResp(len(a)+5*len(f.records)), a, b, f.records)
	if err != nil {
		c.s.putResp(out)
		return fmt.Errorf("encode %s response: %w", apiName(key), err)
	}
	f.out = out
	return nil
}

// spliceRecords appends to dst the frame a with each records field's null
// marker replaced by the length prefix of recs[i], and sets recs[i].at. b is
// the same frame with those fields empty.
func spliceRecords(dst, a, b []byte, recs []outRecords) ([]byte, error) {
	if len(a) != len(b) || len(a) < 4 {
		return dst, fmt.Errorf("records fields change the frame size: %d vs %d bytes", len(a), len(b))
	}
	start := len(dst)
	prev, k, total := 0, 0, 0
	for i := 0; i < len(a); i++ {
		if a[i] == b[i] {
			continue
		}
		j := i + 1
		for j < len(a) && a[j] != b[j] {
			j++
		}
		if k == len(recs) {
			return dst, fmt.Errorf("more records fields than the %d expected", len(recs))
		}
		dst = append(dst, a[prev:i]...)
		n := recs[k].size
		switch {
		case j-i == 4 && binary.BigEndian.Uint32(a[i:]) == 0xffffffff && binary.BigEndian.Uint32(b[i:]) == 0:
			dst = wire.AppendInt32(dst, int32(n))
		case j-i == 1 && a[i] == 0 && b[i] == 1:
			dst = wire.AppendUvarint(dst, uint32(n)+1)
		default:
			return dst, fmt.Errorf("unexpected records field encoding % x / % x at %d", a[i:j], b[i:j], i)
		}
		recs[k].at = len(dst) - start
		total += n
		k++
		prev, i = j, j-1
	}
	if k != len(recs) {
		return dst, fmt.Errorf("%d records fields found, %d expected", k, len(recs))
	}
	dst = append(dst, a[prev:]...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+total))
	return dst, nil
}

// Copy-path sizes. Regions below sendfileMinBytes are copied even where
// sendfile works: one pread and a share of the writev cost less than a
// writev flush, a sendfile call and a separate small TCP segment. Copied
// regions are read in chunks of copyChunkBytes (pooled) and written once
// copyFlushBytes are held, so a connection holds at most a few MiB.
const (
	sendfileMinBytes = 16 << 10
	copyChunkBytes   = 1 << 20
	copyFlushBytes   = 4 << 20
)

// responseWriter writes batches of responses for one connection's writer
// goroutine: bytes gathered into one writev, record regions sent with
// sendfile or copied in, in order.
type responseWriter struct {
	nc   net.Conn
	raw  syscall.RawConn // the socket, when sendfile can be used; nil: copy
	pool *bufPool
	bufs net.Buffers
	// held are pooled buffers of copied records that bufs points into;
	// they go back to the pool after each flush.
	held      []*[]byte
	heldBytes int
}

func newResponseWriter(nc net.Conn, pool *bufPool) *responseWriter {
	return &responseWriter{nc: nc, pool: pool, raw: sendfileConn(nc)}
}

// write sends the batch's responses in order. On error the connection is
// unusable: a frame may be half written.
func (w *responseWriter) write(batch []*inflight) error {
	for _, f := range batch {
		prev := 0
		for _, r := range f.records {
			w.add(f.out[prev:r.at])
			prev = r.at
			for _, reg := range r.regions {
				if err := w.region(reg); err != nil {
					w.reset()
					return err
				}
			}
		}
		w.add(f.out[prev:])
	}
	return w.flush()
}

func (w *responseWriter) add(b []byte) {
	if len(b) > 0 {
		w.bufs = append(w.bufs, b)
	}
}

// region sends reg after everything gathered so far.
func (w *responseWriter) region(reg storage.Region) error {
	if w.raw != nil && reg.Size >= sendfileMinBytes {
		if err := w.flush(); err != nil {
			return err
		}
		sent, err := sendfile(w.raw, reg)
		if !errors.Is(err, errSendfileUnsupported) {
			return err
		}
		w.raw = nil
		reg.Pos += sent
		reg.Size -= int32(sent)
	}
	pos, left := reg.Pos, int(reg.Size)
	for left > 0 {
		n := min(left, copyChunkBytes)
		b := w.pool.get(n, 0)
		if _, err := reg.File.ReadAt(*b, pos); err != nil {
			w.pool.put(b)
			if errors.Is(err, io.EOF) {
				return errRecordsTruncated
			}
			return fmt.Errorf("read fetched records: %w", err)
		}
		w.held = append(w.held, b)
		w.bufs = append(w.bufs, *b)
		w.heldBytes += n
		pos += int64(n)
		left -= n
		if w.heldBytes >= copyFlushBytes {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes everything gathered with one writev (net.Buffers) and
// returns the copy buffers to the pool.
func (w *responseWriter) flush() error {
	var err error
	if len(w.bufs) > 0 {
		bufs := w.bufs // WriteTo consumes its receiver
		_, err = bufs.WriteTo(w.nc)
	}
	w.reset()
	return err
}

func (w *responseWriter) reset() {
	clear(w.bufs)
	w.bufs = w.bufs[:0]
	for _, b := range w.held {
		w.pool.put(b)
	}
	clear(w.held)
	w.held = w.held[:0]
	w.heldBytes = 0
}
