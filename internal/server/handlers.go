package server

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/metrics"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// reqCtx is what a handler knows about the request besides its body.
type reqCtx struct {
	c   *conn
	hdr *protocol.RequestHeader
	v   int16
	// done runs after the response is encoded: buffers the response
	// aliases (fetched records) go back to their pools there.
	done []func()
	// respSize, when set, is about how large the encoded response will
	// be, so its buffer is taken from the pool at the right size.
	respSize int
	// records, when set, are records fields sent from segment files
	// rather than encoded (Fetch), in encoding order; markRecords sets
	// those fields nil (false) or empty (true). See encodeWithRecords.
	records     []outRecords
	markRecords func(empty bool)
	// quota is the request's quota accounting (quotas.go).
	quota requestQuota

	// Authentication (conn_auth.go): who sent the request and from where,
	// the same for a Produce body streamed off the connection. auth is the
	// Session's decision for the request (the SASL handlers answer it);
	// closeConn, set by a handler, closes the connection after the
	// response.
	principal auth.Principal
	host      string
	auth      auth.Decision
	closeConn bool
	// replicaFetch: a Fetch from a follower (metrics: FetchFollower,
	// ReplicationBytesOut).
	replicaFetch bool
}

// handlerFunc answers one request. A nil response means "send nothing"
// (Produce with acks=0). An error closes the connection: it is reserved for
// requests that make the connection unusable, never for request-level
// problems, which go into the response's error codes.
type handlerFunc func(ctx context.Context, rc *reqCtx, req protocol.Request) (protocol.Response, error)

type apiHandler struct {
	fn       handlerFunc
	min, max int16 // versions served (ApiVersions advertises them)
}

// register adds a typed handler for key, serving versions min..max.
func register[Req protocol.Request, Resp protocol.Response](h map[int16]apiHandler, key, min, max int16,
	fn func(ctx context.Context, rc *reqCtx, req Req) (Resp, error)) {
	info := protocol.LookupAPI(key)
	if info == nil {
		panic(fmt.Sprintf("server: register unknown API key %d", key))
	}
	if min < info.MinVersion || max > info.MaxStableVersion() || min > max {
		panic(fmt.Sprintf("server: register %s versions %d-%d outside %d-%d", info.Name, min, max, info.MinVersion, info.MaxStableVersion()))
	}
	h[key] = apiHandler{min: min, max: max, fn: func(ctx context.Context, rc *reqCtx, req protocol.Request) (protocol.Response, error) {
		typed, ok := req.(Req)
		if !ok {
			return nil, fmt.Errorf("request type %T for API key %d", req, key)
		}
		resp, err := fn(ctx, rc, typed)
		if err != nil {
			return nil, err
		}
		// A handler answers "no response" with a nil *XResponse; compare
		// against Resp's zero value, since a typed nil pointer in an
		// interface is not == nil.
		var none Resp
		if any(resp) == any(none) {
			return nil, nil
		}
		return resp, nil
	}}
}

// handle runs f's handler and leaves the encoded response in f.out. A
// panicking handler is a bug, never the client's right: it is logged with its
// stack, the connection closes, and every other client carries on.
func (c *conn) handle(f *inflight) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.logger.Error("handler panicked; closing the connection (please report this bug)",
				zap.String("api", apiName(f.hdr.RequestAPIKey)), zap.Int16("api_version", f.hdr.RequestAPIVersion),
				zap.Any("panic", p), zap.Stack("stack"))
			err = fmt.Errorf("internal error handling %s", apiName(f.hdr.RequestAPIKey))
		}
	}()
	b := c.s.broker
	// --- authentication gate (conn_auth.go) ---
	if f.raw {
		return c.handleRawToken(f)
	}
	decision, proceed, err := c.gate(f)
	if err != nil || !proceed {
		return err
	}
	// ---
	key, v := f.hdr.RequestAPIKey, f.hdr.RequestAPIVersion
	if f.hdr.ClientID != nil && c.clientID != *f.hdr.ClientID {
		c.clientID = *f.hdr.ClientID
	}
	if f.req == nil && f.body == nil { // ApiVersions at a version this broker doesn't know
		return c.encode(f, 0, b.apiVersionsResponse(errcode.UnsupportedVersion))
	}
	h, ok := b.handlers[key]
	if !ok {
		return fmt.Errorf("API key %d (%s) is not served by this broker", key, apiName(key))
	}
	if v < h.min || v > h.max {
		if key == protocol.KeyApiVersions {
			return c.encode(f, 0, b.apiVersionsResponse(errcode.UnsupportedVersion))
		}
		return fmt.Errorf("%s version %d is not served (supported %d-%d)", apiName(key), v, h.min, h.max)
	}
	c.s.quotas.follow(b.image.Load())
	rc := &reqCtx{c: c, hdr: &f.hdr, v: v, principal: c.principal, host: c.host, auth: decision, quota: requestQuota{
		client: c.quotaClient(&f.hdr), size: f.size, start: time.Now(), exempt: requestExempt[key],
	}}
	defer func() {
		for _, fn := range rc.done {
			fn()
		}
		// Pinned records become f's even if the handler panicked, so
		// finish unpins them.
		f.records = rc.records
	}()
	var resp protocol.Response
	if f.body != nil { // a Produce request whose body is still on the connection
		resp, err = b.handleProduceBody(c.ctx, rc, f.body)
	} else {
		resp, err = h.fn(c.ctx, rc, f.req)
	}
	f.respSizeHint = rc.respSize
	f.closeAfter = f.closeAfter || rc.closeConn
	// --- metrics (metrics.go): the request is recorded once, when its
	// response has been written (or, without a response, here) ---
	f.probe = c.s.metrics.series(f)
	f.times.Received, f.times.Dequeued = f.received, rc.quota.start
	// Time parked waiting for others (acks=all replication, a fetch's
	// long poll) is Kafka's RemoteTimeMs, not local time.
	f.times.Remote = rc.quota.waited
	// ---
	if err != nil {
		return err
	}
	c.finishQuotas(rc, resp)
	if resp == nil {
		f.times.Handled = time.Now()
		return nil
	}
	c.countErrors(f.probe, v, resp)
	c.s.metrics.countTopicRequests(b.image.Load(), rc.replicaFetch, resp)
	if len(rc.records) > 0 {
		f.records = rc.records
		err = c.encodeWithRecords(f, v, resp, rc.markRecords)
	} else {
		err = c.encode(f, v, resp)
	}
	f.times.Handled = time.Now()
	return err
}

// countErrors counts each error code resp carries at version v in
// Kafka's ErrorsPerSec of the request (s), and NONE once for a response
// without errors. Every API's errors are counted here, once, from the
// response that goes out, rather than by each handler: the generated
// ErrorCodes walks every *ErrorCode field the version encodes.
func (c *conn) countErrors(s *metrics.RequestSeries, v int16, resp protocol.Response) {
	if c.countError == nil {
		c.countError = func(code int16) {
			c.errSeen = true
			c.errSeries.Error(code)
		}
	}
	c.errSeries, c.errSeen = s, false
	resp.ErrorCodes(v, c.countError)
	if !c.errSeen {
		s.Error(errcode.None)
	}
}

// encode writes resp as f's response frame.
func (c *conn) encode(f *inflight, v int16, resp protocol.Response) error {
	out, err := protocol.AppendResponse(c.s.getResp(f.respSizeHint), f.hdr.CorrelationID, f.hdr.RequestAPIKey, v, resp)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", apiName(f.hdr.RequestAPIKey), err)
	}
	f.out = out
	return nil
}

func apiName(key int16) string {
	if info := protocol.LookupAPI(key); info != nil {
		return info.Name
	}
	return fmt.Sprintf("Unknown(%d)", key)
}

// errName is the Kafka name of an error code, for logs and metrics.
func errName(code int16) string { return errcode.Name(code) }
