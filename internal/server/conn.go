package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/metrics"
	"github.com/spool-broker/spool/protocol"
)

// conn serves one client connection. Three goroutines share it:
//
//	reader  reads frames, parses them and queues them on reqs (bounded by the
//	        per-connection in-flight limit; when full it stops reading, which is
//	        the back-pressure Kafka gets by muting the channel). Of a Produce
//	        request it reads only the header, and waits while the handler
//	        streams the body off the connection (conn_body.go);
//	handler takes requests from reqs one at a time, in arrival order, and
//	        queues the encoded responses on resps. A long-polling Fetch blocks
//	        only this connection's later requests, exactly as in Kafka, so
//	        responses always leave in request order;
//	writer  writes queued responses, coalescing bursts into one writev;
//	        fetched records go with sendfile or are copied in on the way
//	        (responseWriter).
//
// Closing the connection cancels ctx; every goroutine selects on it.
type conn struct {
	s      *Server
	nc     net.Conn
	logger *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc
	reqs   chan *inflight
	resps  chan *inflight
	wg     sync.WaitGroup

	// listener is the name of the listener the client connected to
	// (PLAINTEXT, SASL_PLAINTEXT, ...); the metadata response advertises
	// that listener's endpoints.
	listener string
	// clientID and software name/version are learned from requests.
	clientID        string
	softwareName    string
	softwareVersion string

	// errSeries is the request series whose response countErrors is walking, for
	// countError, which is bound once so that counting allocates nothing.
	// Both belong to the handler goroutine.
	errSeries  *metrics.RequestSeries
	errSeen    bool
	countError func(code int16)
	// throttle mutes the connection while a quota throttle lasts (quotas.go).
	throttle connThrottle
	// shareSessions are the share sessions opened on this connection
	// (share.go), closed with it. Handler goroutine only.
	shareSessions []*shareSession

	// Authentication (conn_auth.go). sec is the listener's setup; sess,
	// principal and host belong to the handler goroutine (the reader reads
	// sess only while the handler is idle).
	sec       *listenerSecurity
	sess      *auth.Session
	principal auth.Principal
	host      string
}

// inflight is one request from read to written response.
type inflight struct {
	hdr      protocol.RequestHeader
	req      protocol.Request
	frame    *[]byte // pooled buffer the request aliases
	size     int32   // the frame's size (its prefix), which producer_byte_rate meters
	received time.Time
	out      []byte // encoded response, size prefix included; nil: no response
	// records are sent from segment files between out's bytes (Fetch);
	// their regions are pinned until finish.
	records []outRecords
	// respSizeHint is the handler's estimate of the response size.
	respSizeHint int
	release      bool // holds a global in-flight slot
	// body, when set, is a Produce request's body still on the connection:
	// the handler reads it while appending, and the reader waits for
	// bodyDone before reading the next frame (conn_body.go).
	body     *protocol.ProduceReader
	bodyDone chan struct{}
	bodyErr  error // set before bodyDone closes: the body was not read to its end
	// probe and times record the request in RequestMetrics once its
	// response is written (metrics.go); nil probe: not recorded.
	probe *metrics.RequestSeries
	times metrics.RequestTimes

	// Authentication (conn_auth.go): handled, when set, is closed once the
	// handler has answered the request and the connection goes on; the
	// reader waits for it before reading further. gated marks a request
	// read before authentication (only its header is parsed), raw a bare
	// SASL token, closeAfter a response after which the connection closes.
	handled    chan struct{}
	gated      bool
	raw        bool
	closeAfter bool
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, listener string) {
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		s:        s,
		nc:       nc,
		logger:   s.logger.With(zap.String("remote", nc.RemoteAddr().String())),
		ctx:      ctx,
		cancel:   cancel,
		reqs:     make(chan *inflight, s.perConnInflight),
		resps:    make(chan *inflight, s.perConnInflight),
		listener: listener,
	}
	open := s.metrics.requests.Connection(listener)
	open.Add(1)
	defer open.Add(-1)
	// --- security (conn_auth.go): TLS handshake, Session ---
	if !c.startSecurity() {
		cancel()
		_ = nc.Close()
		return
	}
	// ---
	c.wg.Add(2)
	go c.handleLoop()
	go c.writeLoop()
	c.readLoop()
	// The reader is the only sender on reqs. Closing it lets the handler
	// finish what was already read and the writer flush its answers (a
	// graceful shutdown closes only the read side), unless a failure
	// cancelled ctx first.
	close(c.reqs)
	c.wg.Wait()
	cancel()
	_ = nc.Close()
	if len(c.shareSessions) > 0 {
		s.broker.shareHandlers.connClosed(c.shareSessions)
	}
	// Return pooled buffers and global slots of anything abandoned.
	for f := range c.reqs {
		c.finish(f)
	}
	for f := range c.resps {
		c.finish(f)
	}
}

func (c *conn) finish(f *inflight) {
	if f.frame != nil {
		c.s.putFrame(f.frame)
		f.frame = nil
	}
	for _, r := range f.records {
		for _, reg := range r.regions {
			reg.Unpin()
		}
	}
	f.records = nil
	if f.release {
		f.release = false
		<-c.s.globalInflight
	}
}

func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 16<<10)
	// --- authentication (conn_auth.go): one frame at a time until authenticated ---
	if !c.readUntilAuthenticated(br) {
		return
	}
	// ---
	var sizeBuf [4]byte
	for {
		// A throttled client's connection is muted: nothing is read.
		if !c.waitUnthrottled() {
			return
		}
		if idle := c.s.idleTimeout; idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		if c.ctx.Err() != nil { // closing: the handler's wake-up may predate the deadline above
			return
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			c.logReadEnd(err)
			return
		}
		size := int32(uint32(sizeBuf[0])<<24 | uint32(sizeBuf[1])<<16 | uint32(sizeBuf[2])<<8 | uint32(sizeBuf[3]))
		if size < 0 || size > c.s.maxRequestSize {
			// Checked before allocating: a hostile prefix costs nothing.
			c.logger.Warn("closing connection: request size out of range; raise socket.request.max.bytes if this client is legitimate",
				zap.Int32("size", size), zap.Int32("socket_request_max_bytes", c.s.maxRequestSize))
			return
		}
		// A body read must make progress; a client that sends a size and
		// stalls is dropped after the request timeout, not the idle one.
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.requestReadTimeout))
		if f := c.streamedRequest(br, size); f != nil {
			if !c.enqueue(f) || !c.awaitBody(f) {
				return
			}
			continue
		}
		frame := c.s.getFrame(int(size))
		if _, err := io.ReadFull(br, *frame); err != nil {
			c.s.putFrame(frame)
			c.logReadEnd(err)
			return
		}
		f := &inflight{frame: frame, size: size, received: time.Now()}
		hdr, req, err := protocol.ParseRequest(*frame)
		f.hdr, f.req = hdr, req
		if err != nil {
			if !c.answerUnparsable(f, err) {
				c.s.putFrame(frame)
				return
			}
		}
		// --- re-authentication (KIP-368, conn_auth.go): SaslHandshake on a SASL connection ---
		if hdr.RequestAPIKey == protocol.KeySaslHandshake && c.sec != nil && c.sec.SASL != nil {
			f.handled = make(chan struct{})
			if !c.enqueue(f) || !c.awaitHandled(f) || !c.readUntilAuthenticated(br) {
				return
			}
			continue
		}
		// ---
		if !c.enqueue(f) {
			return
		}
	}
}

// enqueue hands f to the handler once it holds a global in-flight slot
// (queued.max.requests). False: the connection is closing.
func (c *conn) enqueue(f *inflight) bool {
	select {
	case c.s.globalInflight <- struct{}{}:
		f.release = true
	case <-c.ctx.Done():
		c.finish(f)
		return false
	}
	select {
	case c.reqs <- f:
		return true
	case <-c.ctx.Done():
		c.finish(f)
		return false
	}
}

// answerUnparsable decides what to do with a request that did not parse.
// Kafka closes the connection for unknown keys, unsupported versions and
// malformed bodies, with one exception: ApiVersions with a version newer than
// the broker knows is answered with UNSUPPORTED_VERSION in v0 form, so a new
// client can learn what this broker speaks. It reports whether the request
// stays queued (f.req then holds the v0 answer's request).
func (c *conn) answerUnparsable(f *inflight, err error) bool {
	if f.hdr.RequestAPIKey == protocol.KeyApiVersions && errors.Is(err, protocol.ErrUnsupportedVersion) {
		f.req = nil // handleLoop answers with the v0 error response
		return true
	}
	c.logger.Warn("closing connection: unparsable request",
		zap.Int16("api_key", f.hdr.RequestAPIKey), zap.Int16("api_version", f.hdr.RequestAPIVersion),
		zap.Int32("correlation_id", f.hdr.CorrelationID), zap.Error(err))
	return false
}

func (c *conn) logReadEnd(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.ctx.Err() != nil:
	case errors.As(err, &ne) && ne.Timeout():
		c.logger.Debug("closing idle connection")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.logger.Debug("connection closed mid-frame")
	default:
		c.logger.Debug("connection read failed", zap.Error(err))
	}
}

func (c *conn) handleLoop() {
	defer c.wg.Done()
	for {
		var f *inflight
		select {
		case <-c.ctx.Done():
			close(c.resps)
			return
		case f = <-c.reqs:
		}
		if f == nil { // reqs closed: no more requests
			close(c.resps)
			return
		}
		// Requests read before a throttle began wait it out too.
		if !c.waitUnthrottled() {
			c.finish(f)
			close(c.resps)
			return
		}
		err := c.handle(f)
		if readFailed := c.endBody(f); err != nil {
			var ae *errAuthClose
			if readFailed {
				c.logReadEnd(err)
			} else if errors.As(err, &ae) {
				c.logger.Debug("closing connection", zap.Int16("api_key", f.hdr.RequestAPIKey), zap.Error(err))
			} else {
				c.logger.Warn("closing connection", zap.Int16("api_key", f.hdr.RequestAPIKey), zap.Error(err))
			}
			c.finish(f)
			c.cancel()
			// The reader may be blocked reading the next frame: wake it, so
			// the connection closes now rather than at the client's next
			// write (a client waiting for this answer would wait forever).
			_ = c.nc.SetReadDeadline(time.Now())
			close(c.resps)
			return
		}
		if f.frame != nil {
			c.s.putFrame(f.frame)
			f.frame = nil
		}
		// --- authentication (conn_auth.go): let the reader go on, or stop after this answer ---
		if f.closeAfter {
			select {
			case c.resps <- f: // the writer closes the connection after it
			case <-c.ctx.Done():
				c.finish(f)
			}
			close(c.resps)
			return
		}
		if f.handled != nil {
			close(f.handled)
		}
		// ---
		if f.out == nil { // acks=0 produce: nothing to write
			c.s.metrics.complete(f, time.Time{}, time.Time{})
			c.finish(f)
			continue
		}
		select {
		case c.resps <- f:
		case <-c.ctx.Done():
			c.finish(f)
			close(c.resps)
			return
		}
	}
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	var batch []*inflight
	w := newResponseWriter(c.nc, &c.s.bufs)
	for {
		batch = batch[:0]
		f, ok := <-c.resps
		if !ok {
			return
		}
		batch = append(batch, f)
	more:
		for len(batch) < cap(c.resps) {
			select {
			case f, ok := <-c.resps:
				if !ok {
					break more
				}
				batch = append(batch, f)
			default:
				break more
			}
		}
		sending := time.Now()
		_ = c.nc.SetWriteDeadline(sending.Add(c.s.writeTimeout))
		err := w.write(batch)
		sent := time.Now()
		closeAfter := false
		for _, f := range batch {
			c.s.metrics.complete(f, sending, sent)
			closeAfter = closeAfter || f.closeAfter
			c.s.putResp(f.out)
			f.out = nil
			c.finish(f)
		}
		if closeAfter && err == nil { // a failed authentication was answered (conn_auth.go)
			c.cancel()
			return
		}
		if err != nil {
			if errors.Is(err, errRecordsTruncated) {
				c.logger.Info("closing connection: fetched records were truncated before they were sent", zap.Error(err))
			} else {
				c.logger.Debug("connection write failed", zap.Error(err))
			}
			c.cancel()
			for f := range c.resps { // unblock the handler until it closes resps
				c.finish(f)
			}
			return
		}
	}
}
