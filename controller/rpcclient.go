package controller

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spool-broker/spool/protocol"
)

// errTransport marks a controller RPC that failed below the Kafka protocol
// (connect, write, read, decode): the request may or may not have reached
// the controller, and another attempt, perhaps at another controller, may
// succeed.
var errTransport = errors.New("controller: rpc transport")

// defaultRPCTimeout bounds one controller RPC whose ctx has no deadline.
const defaultRPCTimeout = 30 * time.Second

// rpcClient sends Kafka requests to controller listeners, at the newest
// version both sides know (both are Spool). Connections are pooled per
// address and carry one request at a time, so a long-polling Fetch on one
// never delays a heartbeat on another. Safe for concurrent use.
type rpcClient struct {
	clientID string
	maxFrame int32
	// dial connects and authenticates (sasl.mechanism.controller.protocol
	// over the CONTROLLER listener's security protocol); nil: plain TCP.
	dial DialFunc

	corr atomic.Int32

	mu     sync.Mutex
	idle   map[string][]*rpcConn
	closed bool
}

type rpcConn struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
}

// DialFunc connects to a controller listener at addr and runs its security
// (TLS, SASL) as a client, so the connection is ready for Kafka requests
// or the raft preamble.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

func newRPCClient(clientID string, dial DialFunc) *rpcClient {
	return &rpcClient{clientID: clientID, maxFrame: protocol.DefaultMaxRequestSize, idle: map[string][]*rpcConn{}, dial: dial}
}

// call sends req to addr and returns the response.
func (c *rpcClient) call(ctx context.Context, addr string, req protocol.Request) (protocol.Response, error) {
	key := req.APIKey()
	api := protocol.LookupAPI(key)
	if api == nil {
		return nil, fmt.Errorf("controller: rpc: unknown api key %d", key)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRPCTimeout)
		defer cancel()
	}
	conn, err := c.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	v := api.MaxStableVersion()
	hdr := protocol.RequestHeader{RequestAPIKey: key, RequestAPIVersion: v, CorrelationID: c.corr.Add(1), ClientID: &c.clientID}
	frame, err := protocol.AppendRequest(conn.buf[:0], &hdr, req)
	if err != nil {
		c.discard(conn)
		return nil, fmt.Errorf("controller: rpc: encode %s: %w", api.Name, err)
	}
	dl, _ := ctx.Deadline()
	_ = conn.nc.SetDeadline(dl)
	// A cancelled ctx unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.nc.Write(frame); err != nil {
		c.discard(conn)
		return nil, fmt.Errorf("%w: send %s to %s: %w", errTransport, api.Name, addr, ctxErr(ctx, err))
	}
	respFrame, err := protocol.ReadFrame(conn.br, c.maxFrame, frame[:0])
	if err != nil {
		c.discard(conn)
		return nil, fmt.Errorf("%w: read %s response from %s: %w", errTransport, api.Name, addr, ctxErr(ctx, err))
	}
	rh, resp, err := protocol.DecodeResponse(respFrame, key, v)
	if err != nil || rh.CorrelationID != hdr.CorrelationID {
		c.discard(conn)
		if err == nil {
			err = fmt.Errorf("correlation id %d, want %d", rh.CorrelationID, hdr.CorrelationID)
		}
		return nil, fmt.Errorf("%w: %s response from %s: %w", errTransport, api.Name, addr, err)
	}
	// Records in the response alias the frame: keep the buffer with the
	// response, and give the connection a fresh one.
	conn.buf = nil
	if stop() {
		c.put(addr, conn)
	} else {
		c.discard(conn)
	}
	return resp, nil
}

// ctxErr prefers the context's error over the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *rpcClient) get(ctx context.Context, addr string) (*rpcConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: client closed", errTransport)
	}
	if list := c.idle[addr]; len(list) > 0 {
		conn := list[len(list)-1]
		c.idle[addr] = list[:len(list)-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var nc net.Conn
	var err error
	if c.dial != nil {
		nc, err = c.dial(dctx, addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %w", errTransport, addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &rpcConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (c *rpcClient) put(addr string, conn *rpcConn) {
	_ = conn.nc.SetDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[addr]) >= 4 {
		_ = conn.nc.Close()
		return
	}
	c.idle[addr] = append(c.idle[addr], conn)
}

func (c *rpcClient) discard(conn *rpcConn) { _ = conn.nc.Close() }

// close closes idle connections; calls in flight finish or fail on their
// own, and their connections are closed when they return.
func (c *rpcClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for addr, list := range c.idle {
		for _, conn := range list {
			_ = conn.nc.Close()
		}
		delete(c.idle, addr)
	}
}
