package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// versionCaps bounds the versions the client sends where a newer version
// changes the request's shape in a way the CLI does not use: Produce v13,
// Fetch v13+, OffsetCommit v10 and OffsetFetch v10 address topics by ID
// only (KIP-516, KIP-848).
var versionCaps = map[int16]int16{0: 12, 1: 12, 8: 9, 9: 9}

// KafkaError is a Kafka error code returned for one resource.
type KafkaError struct {
	Code     int16
	Message  string // the broker's message, if any
	Resource string // e.g. `topic "orders"`
}

func (e *KafkaError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = errcode.Message(e.Code)
	}
	s := errcode.Name(e.Code)
	if e.Resource != "" {
		s = e.Resource + ": " + s
	}
	if msg != "" {
		s += ": " + msg
	}
	if h := hintFor(e.Code); h != "" {
		s += "\n  " + h
	}
	return s
}

// codeErr returns nil for errcode.None and a *KafkaError otherwise.
func codeErr(code int16, msg *string, resource string) error {
	if code == errcode.None {
		return nil
	}
	e := &KafkaError{Code: code, Resource: resource}
	if msg != nil {
		e.Message = *msg
	}
	return e
}

// hintFor says what to do next about an error code the CLI commonly meets.
func hintFor(code int16) string {
	switch code {
	case errcode.TopicAlreadyExists:
		return "pick another name, or pass --if-not-exists to succeed when it exists"
	case errcode.UnknownTopicOrPartition, errcode.UnknownTopicID:
		return "check the name with `spool topic list`, or create it with `spool topic create`"
	case errcode.InvalidReplicationFactor:
		return "the replication factor cannot exceed the number of brokers (`spool cluster info` lists them)"
	case errcode.InvalidPartitions:
		return "partitions can only be added: pass a count above the current one (`spool topic describe`)"
	case errcode.InvalidConfig:
		return "check the property name and value (`spool topic describe` shows the current configs)"
	case errcode.NonEmptyGroup:
		return "stop the group's consumers first: a group with active members cannot be deleted or reset"
	case errcode.GroupIDNotFound:
		return "check the name with `spool group list`"
	case errcode.CoordinatorNotAvailable, errcode.CoordinatorLoadInProgress, errcode.NotCoordinator:
		return "the group coordinator is starting or moving; retry in a few seconds"
	case errcode.TopicAuthorizationFailed, errcode.GroupAuthorizationFailed, errcode.ClusterAuthorizationFailed:
		return "the principal lacks an ACL for this; ask an administrator or use other credentials in --command-config"
	case errcode.NotEnoughReplicas, errcode.NotEnoughReplicasAfterAppend:
		return "fewer replicas are in sync than min.insync.replicas: check `spool cluster health`"
	case errcode.PolicyViolation:
		return "the broker's policy refused the change"
	}
	return ""
}

// ClientConfig is what connecting needs: Kafka's client property names are
// read from --command-config (see loadClientConfig).
type ClientConfig struct {
	Bootstrap      []string
	ClientID       string
	RequestTimeout time.Duration
	DialTimeout    time.Duration
	// Dialer connects with the configured security (TLS, SASL); nil is
	// PLAINTEXT.
	Dialer *seclink.Dialer
}

// Client talks to a cluster over Kafka's protocol with the project's own
// generated messages: one connection per broker, requests answered in
// order on each connection. Safe for concurrent use.
type Client struct {
	cfg ClientConfig

	mu      sync.Mutex
	conns   map[string]*conn // by host:port
	brokers map[protocol.BrokerID]string
}

// NewClient returns a client; it connects lazily.
func NewClient(cfg ClientConfig) *Client {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "spool-cli"
	}
	return &Client{cfg: cfg, conns: map[string]*conn{}, brokers: map[protocol.BrokerID]string{}}
}

// Close closes every connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, cn := range c.conns {
		cn.close()
		delete(c.conns, addr)
	}
}

// conn is one broker connection. mu serializes request/response pairs.
type conn struct {
	addr     string
	mu       sync.Mutex
	nc       net.Conn
	rd       *bufio.Reader
	corr     int32
	versions map[int16]protocol.ApiVersionsResponseAPIVersion
}

func (cn *conn) close() { _ = cn.nc.Close() }

// ConnectError says a broker could not be reached, and what to try.
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	hint := "is a broker running there? Pass --bootstrap-server HOST:PORT (or bootstrap.servers in --command-config)"
	if errors.Is(e.Err, seclink.ErrAuthentication) {
		hint = "check the credentials (sasl.jaas.config) and sasl.mechanism in --command-config"
	}
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot connect to %s: connection refused\n  %s", e.Addr, hint)
	}
	return fmt.Sprintf("cannot connect to %s: %v\n  %s", e.Addr, e.Err, hint)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// dial connects to addr and negotiates API versions.
func (c *Client) dial(ctx context.Context, addr string) (*conn, error) {
	c.mu.Lock()
	if cn := c.conns[addr]; cn != nil {
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	nc, err := c.cfg.Dialer.DialContext(dctx, addr)
	cancel()
	if err != nil {
		return nil, &ConnectError{Addr: addr, Err: err}
	}
	cn := &conn{addr: addr, nc: nc, rd: bufio.NewReaderSize(nc, 64<<10)}
	// ApiVersions v0 is understood by every broker; v3 carries the client's
	// name. Start at v3 and fall back to v0 on UNSUPPORTED_VERSION.
	var av *protocol.ApiVersionsResponse
	for _, v := range []int16{3, 0} {
		req := &protocol.ApiVersionsRequest{ClientSoftwareName: "spool-cli", ClientSoftwareVersion: "1"}
		resp, err := c.roundTrip(ctx, cn, req, v)
		if err != nil {
			nc.Close()
			return nil, &ConnectError{Addr: addr, Err: err}
		}
		av = resp.(*protocol.ApiVersionsResponse)
		if av.ErrorCode != errcode.UnsupportedVersion {
			break
		}
	}
	if av.ErrorCode != errcode.None {
		nc.Close()
		return nil, &ConnectError{Addr: addr, Err: codeErr(av.ErrorCode, nil, "ApiVersions")}
	}
	cn.versions = map[int16]protocol.ApiVersionsResponseAPIVersion{}
	for _, k := range av.APIKeys {
		cn.versions[k.APIKey] = k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.conns[addr]; old != nil { // lost a race: keep the first
		nc.Close()
		return old, nil
	}
	c.conns[addr] = cn
	return cn, nil
}

// version picks the newest version of key both sides support.
func (cn *conn) version(key int16) (int16, error) {
	api := protocol.LookupAPI(key)
	if api == nil {
		return 0, fmt.Errorf("api key %d unknown to this build", key)
	}
	br, ok := cn.versions[key]
	if !ok {
		return 0, fmt.Errorf("broker %s does not support %s: upgrade the broker", cn.addr, api.Name)
	}
	v := api.MaxStableVersion()
	if cap, ok := versionCaps[key]; ok && v > cap {
		v = cap
	}
	if v > br.MaxVersion {
		v = br.MaxVersion
	}
	if v < br.MinVersion || v < api.MinVersion {
		return 0, fmt.Errorf("broker %s supports %s v%d-%d, this CLI v%d-%d: no common version", cn.addr, api.Name, br.MinVersion, br.MaxVersion, api.MinVersion, v)
	}
	return v, nil
}

// roundTrip writes req at version v on cn and reads its response.
func (c *Client) roundTrip(ctx context.Context, cn *conn, req protocol.Request, v int16) (protocol.Response, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	key := req.APIKey()
	cn.corr++
	corr := cn.corr
	clientID := c.cfg.ClientID
	hdr := protocol.RequestHeader{RequestAPIKey: key, RequestAPIVersion: v, CorrelationID: corr, ClientID: &clientID}
	buf := make([]byte, 4, 256)
	buf = hdr.AppendTo(buf, protocol.RequestHeaderVersion(key, v))
	buf = req.AppendTo(buf, v)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))

	deadline := time.Now().Add(c.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = cn.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (protocol.Response, error) {
		c.drop(cn)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", cn.addr, err)
	}
	if _, err := cn.nc.Write(buf); err != nil {
		return fail(err)
	}
	frame, err := protocol.ReadFrame(cn.rd, protocol.DefaultMaxRequestSize, nil)
	if err != nil {
		return fail(err)
	}
	if len(frame) < 4 || int32(binary.BigEndian.Uint32(frame)) != corr {
		return fail(errors.New("response out of order (correlation id mismatch)"))
	}
	// ApiVersions answers in header v0 whatever the version (see protocol.DecodeResponse).
	_, resp, err := protocol.DecodeResponse(frame, key, v)
	if err != nil {
		return fail(err)
	}
	return resp, nil
}

func (c *Client) drop(cn *conn) {
	cn.close()
	c.mu.Lock()
	if c.conns[cn.addr] == cn {
		delete(c.conns, cn.addr)
	}
	c.mu.Unlock()
}

// Any sends req to the first reachable bootstrap (or known) broker.
func (c *Client) Any(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	var errs []error
	for _, addr := range c.cfg.Bootstrap {
		cn, err := c.dial(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return c.send(ctx, cn, req)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("no bootstrap server reachable: %w", errors.Join(errs...))
}

// Broker sends req to broker id (whose address a Metadata call learned).
func (c *Client) Broker(ctx context.Context, id protocol.BrokerID, req protocol.Request) (protocol.Response, error) {
	c.mu.Lock()
	addr, ok := c.brokers[id]
	c.mu.Unlock()
	if !ok {
		if _, err := c.Metadata(ctx, nil); err != nil {
			return nil, err
		}
		c.mu.Lock()
		addr, ok = c.brokers[id]
		c.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("broker %d is not in the cluster's metadata", id)
		}
	}
	cn, err := c.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, cn, req)
}

func (c *Client) send(ctx context.Context, cn *conn, req protocol.Request) (protocol.Response, error) {
	v, err := cn.version(req.APIKey())
	if err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, cn, req, v)
}

// Metadata fetches metadata for topics (nil: all topics) and remembers the
// brokers' addresses.
func (c *Client) Metadata(ctx context.Context, topics []string) (*protocol.MetadataResponse, error) {
	// No auto-creation: a typo in an admin command must not create a topic.
	req := &protocol.MetadataRequest{AllowAutoTopicCreation: false}
	if topics != nil {
		req.Topics = []protocol.MetadataRequestTopic{}
		for _, t := range topics {
			name := protocol.TopicName(t)
			req.Topics = append(req.Topics, protocol.MetadataRequestTopic{Name: &name})
		}
	}
	resp, err := c.Any(ctx, req)
	if err != nil {
		return nil, err
	}
	md := resp.(*protocol.MetadataResponse)
	if err := codeErr(md.ErrorCode, nil, "metadata"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	for _, b := range md.Brokers {
		c.brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	c.mu.Unlock()
	return md, nil
}

// Coordinator finds the coordinator of group and returns its broker id.
func (c *Client) Coordinator(ctx context.Context, group string) (protocol.BrokerID, error) {
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	for {
		req := &protocol.FindCoordinatorRequest{Key: group, CoordinatorKeys: []string{group}}
		resp, err := c.Any(ctx, req)
		if err != nil {
			return -1, err
		}
		fc := resp.(*protocol.FindCoordinatorResponse)
		code, msg, id, host, port := fc.ErrorCode, fc.ErrorMessage, fc.NodeID, fc.Host, fc.Port
		if len(fc.Coordinators) > 0 { // v4+
			k := fc.Coordinators[0]
			code, msg, id, host, port = k.ErrorCode, k.ErrorMessage, k.NodeID, k.Host, k.Port
		}
		if code == errcode.None {
			c.mu.Lock()
			c.brokers[id] = net.JoinHostPort(host, strconv.Itoa(int(port)))
			c.mu.Unlock()
			return id, nil
		}
		if !errcode.Retriable(code) || time.Now().After(deadline) {
			return -1, codeErr(code, msg, fmt.Sprintf("group %q coordinator", group))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return -1, err
		}
	}
}

// sleepCtx waits d between retries of a request the broker said to retry.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// splitBootstrap splits a comma-separated host:port list, defaulting the port to 9092.
func splitBootstrap(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "9092")
		}
		out = append(out, a)
	}
	return out
}
