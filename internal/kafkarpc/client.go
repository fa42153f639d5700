package kafkarpc

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

// ErrTransport marks a request that failed below the Kafka protocol
// (connect, write, read, decode): it may or may not have reached the other
// node, and another attempt, perhaps at another node, may succeed.
var ErrTransport = errors.New("kafkarpc: transport")

// DefaultTimeout bounds one request whose ctx has no deadline.
const DefaultTimeout = 30 * time.Second

// Client sends Kafka requests to other nodes' listeners, at the newest
// stable version (both sides are Spool). Connections are pooled per address
// and carry one request at a time. Safe for concurrent use.
type Client struct {
	clientID string
	maxFrame int32
	// dial connects and authenticates (a seclink.Dialer's DialContext);
	// nil: plain TCP.
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

// DialFunc connects to a listener at addr and runs its security (TLS, SASL)
// as a client, so the connection is ready for Kafka requests (or, on a
// CONTROLLER listener, the raft preamble).
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// New returns a Client whose requests carry clientID, connecting in plain
// TCP.
func New(clientID string) *Client { return NewDialing(clientID, nil) }

// NewDialing returns a Client that connects with dial (nil: plain TCP).
func NewDialing(clientID string, dial DialFunc) *Client {
	return &Client{clientID: clientID, maxFrame: protocol.DefaultMaxRequestSize, idle: map[string][]*rpcConn{}, dial: dial}
}

// Call sends req to addr and returns the response.
func (c *Client) Call(ctx context.Context, addr string, req protocol.Request) (protocol.Response, error) {
	key := req.APIKey()
	api := protocol.LookupAPI(key)
	if api == nil {
		return nil, fmt.Errorf("kafkarpc: unknown api key %d", key)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
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
		return nil, fmt.Errorf("kafkarpc: encode %s: %w", api.Name, err)
	}
	dl, _ := ctx.Deadline()
	_ = conn.nc.SetDeadline(dl)
	// A cancelled ctx unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.nc.Write(frame); err != nil {
		c.discard(conn)
		return nil, fmt.Errorf("%w: send %s to %s: %w", ErrTransport, api.Name, addr, ctxErr(ctx, err))
	}
	respFrame, err := protocol.ReadFrame(conn.br, c.maxFrame, frame[:0])
	if err != nil {
		c.discard(conn)
		return nil, fmt.Errorf("%w: read %s response from %s: %w", ErrTransport, api.Name, addr, ctxErr(ctx, err))
	}
	rh, resp, err := protocol.DecodeResponse(respFrame, key, v)
	if err != nil || rh.CorrelationID != hdr.CorrelationID {
		c.discard(conn)
		if err == nil {
			err = fmt.Errorf("correlation id %d, want %d", rh.CorrelationID, hdr.CorrelationID)
		}
		return nil, fmt.Errorf("%w: %s response from %s: %w", ErrTransport, api.Name, addr, err)
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

func (c *Client) get(ctx context.Context, addr string) (*rpcConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: client closed", ErrTransport)
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
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrTransport, addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &rpcConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (c *Client) put(addr string, conn *rpcConn) {
	_ = conn.nc.SetDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[addr]) >= 4 {
		_ = conn.nc.Close()
		return
	}
	c.idle[addr] = append(c.idle[addr], conn)
}

func (c *Client) discard(conn *rpcConn) { _ = conn.nc.Close() }

// Close closes idle connections; calls in flight finish or fail on their
// own, and their connections are closed when they return.
func (c *Client) Close() {
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
