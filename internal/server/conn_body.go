package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"time"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/wire"
)

// Produce bodies are streamed: the reader parses only the request header and
// queues the request; the handler then reads the body off the connection
// itself, one partition at a time, validating and appending each
// partition's records while the client is still sending the rest (and while
// those records are still in the CPU cache), and the reader waits until the
// handler is done with the body before it reads the next frame. Nothing else
// changes: requests are handled and answered in order, and the per-connection
// and global in-flight limits count a streamed request like any other.
//
// Kafka reads the whole request before appending anything. The difference
// shows only when a request breaks off midway (the client disconnects or
// sends a malformed tail): partitions before the break are appended, and,
// as when a connection drops before a response is read, the client does not
// learn their offsets; an idempotent producer's retry is recognised as a
// duplicate, a non-idempotent one may write them twice (at-least-once, as
// with any lost response). Well-formed requests behave exactly as before.

// errBodyUnread marks a streamed body its handler did not read to the end:
// the connection cannot be read any further.
var errBodyUnread = errors.New("request body not read to its end")

// streamedRequest returns the next frame, of size bytes, as a request whose
// body its handler streams, with the header consumed from br, or nil (and
// nothing consumed) to read the frame whole: it is not a Produce request, or
// its header does not parse or does not fit in br's buffer. ParseRequest on
// the whole frame then answers it as usual.
func (c *conn) streamedRequest(br *bufio.Reader, size int32) *inflight {
	if size < 4 {
		return nil
	}
	// Most headers fit in the first few hundred bytes; a long client id
	// needs more of the buffer.
	for _, n := range [...]int{256, br.Size()} {
		b, err := br.Peek(min(int(size), n))
		if err != nil || int16(binary.BigEndian.Uint16(b)) != protocol.KeyProduce {
			return nil
		}
		hdr, hlen, err := protocol.ParseRequestHeader(b)
		if errors.Is(err, wire.ErrShort) && len(b) < int(size) {
			continue
		}
		if err != nil {
			return nil
		}
		body, err := protocol.NewProduceReader(br, int(size)-hlen, hdr.RequestAPIVersion)
		if err != nil {
			return nil
		}
		_, _ = br.Discard(hlen) // peeked: cannot fail
		return &inflight{hdr: hdr, size: size, received: time.Now(), body: body, bodyDone: make(chan struct{})}
	}
	return nil
}

// awaitBody waits until the handler is done reading f's body. False: the
// connection is closing (the handler has said why).
func (c *conn) awaitBody(f *inflight) bool {
	select {
	case <-f.bodyDone:
		return f.bodyErr == nil
	case <-c.ctx.Done():
		return false
	}
}

// endBody lets the reader go on after the handler is done with f, whatever
// happened to it; the reader stops unless the body was read to its end. It
// reports whether reading the body from the connection failed (the client
// went away), which is not worth more than a debug log.
func (c *conn) endBody(f *inflight) (readFailed bool) {
	if f.bodyDone == nil {
		return false
	}
	if !f.body.Finished() {
		f.bodyErr = errBodyUnread
		readFailed = f.body.ReadFailed()
	}
	close(f.bodyDone)
	return readFailed
}

// extendReadDeadline gives a streamed body another request timeout to make
// progress: the deadline applies per partition read, as it applies per
// frame to requests read whole.
func (c *conn) extendReadDeadline() {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.s.requestReadTimeout))
}
