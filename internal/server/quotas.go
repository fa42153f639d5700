package server

import (
	"context"
	"fmt"
	"github.com/spool-broker/spool/auth"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/quota"
)

// Client quotas and connection limits on the request path (Kafka's
// QuotaManagers, RequestHandlerHelper throttling and ConnectionQuotas).
//
//   - Every request records its handler time against the client's
//     request_percentage quota when it is answered (Kafka's
//     sendResponseMaybeThrottle), except follower fetches, acks=0 produces
//     and WriteTxnMarkers. Produce records the request's size against
//     producer_byte_rate, Fetch the response's size against
//     consumer_byte_rate, and CreateTopics, CreatePartitions and
//     DeleteTopics charge controller_mutation_rate with partitions.
//   - The longest throttle goes into the response's throttle_time_ms, the
//     response is sent at once, and the connection is muted for that time
//     (KIP-219): the reader reads no further frame and the handler handles
//     no further request until it has passed, so a client that ignores the
//     throttle time is held back as well. A throttled Fetch is answered
//     empty and its bytes are taken back.
//   - The quota's user is the connection's principal (conn.principalName),
//     the client id is the request header's.
//
// serverQuotas follows the broker's metadata image: client quotas and IP
// connection-rate quotas from the ClientQuotaRecords, connection limits
// from the static and dynamic broker configs.
type serverQuotas struct {
	logger  *zap.Logger
	cfg     *config.Broker
	nodeID  string
	clients *quota.Manager
	conns   *quota.ConnectionQuotas

	// acceptCtx ends when the listeners close (Shutdown): blocked accepts
	// give up, and muted connections stop waiting so they notice the
	// shutdown.
	acceptCtx  context.Context
	stopAccept context.CancelFunc

	img  atomic.Pointer[controller.MetadataImage] // the image last followed
	mu   sync.Mutex                               // serializes follow
	last struct {
		settings config.ConnectionSettings
		hosts    map[string][]netip.Addr // resolved override and IP-entity hosts
	}
}

func newServerQuotas(cfg *config.Broker, reg prometheus.Registerer, log *zap.Logger) *serverQuotas {
	w := cfg.QuotaWindows()
	window := time.Duration(w.SizeSeconds) * time.Second
	q := &serverQuotas{
		logger: log,
		cfg:    cfg,
		nodeID: strconv.Itoa(int(cfg.NodeID)),
		clients: quota.NewManager(quota.Config{
			Samples: w.Num, Window: window,
			ControllerSamples: w.ControllerNum, ControllerWindow: time.Duration(w.ControllerSizeSeconds) * time.Second,
		}),
		conns: quota.NewConnectionQuotas(w.Num, window, quota.NoConnectionLimits(), nil),
	}
	q.last.hosts = map[string][]netip.Addr{}
	q.acceptCtx, q.stopAccept = context.WithCancel(context.Background())
	q.clients.Register(reg)
	q.conns.Register(reg)
	q.applyLimits(config.Dynamic{})
	return q
}

// follow brings quotas and limits up to img; cheap when img was followed
// already.
func (q *serverQuotas) follow(img *controller.MetadataImage) {
	if q == nil || img == nil || q.img.Load() == img {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur := q.img.Load(); cur != nil && img.Offset() < cur.Offset() {
		return // a newer image was followed meanwhile
	}
	all := img.ClientQuotas()
	q.clients.Apply(all)
	def, perIP := quota.Unlimited, map[netip.Addr]int{}
	for e, kv := range all {
		v, ok := kv[quota.ConnectionCreationRate]
		if !ok || !e.IsIP() {
			continue
		}
		if e.IP.Kind == quota.Default {
			def = int(v)
			continue
		}
		for _, a := range q.resolve(e.IP.Name) {
			perIP[a] = int(v)
		}
	}
	q.conns.SetIPQuotas(def, perIP)
	q.applyLimits(config.Dynamic{
		PerBroker:      img.Config(controller.ResourceBroker, q.nodeID),
		ClusterDefault: img.Config(controller.ResourceBroker, ""),
	})
	q.img.Store(img)
}

// applyLimits sets the connection limits the configs resolve to. Caller
// holds mu (or is the constructor).
func (q *serverQuotas) applyLimits(dyn config.Dynamic) {
	s := q.cfg.ConnectionSettings(dyn)
	if reflect.DeepEqual(s, q.last.settings) {
		return
	}
	q.last.settings = s
	l := quota.ConnectionLimits{
		MaxConnections:            s.MaxConnections,
		MaxConnectionsPerIP:       s.MaxConnectionsPerIP,
		MaxConnectionCreationRate: s.MaxConnectionCreationRate,
		PerIPOverrides:            map[netip.Addr]int{},
		Listeners:                 map[string]quota.ListenerLimits{},
		InterBrokerListener:       q.cfg.InterBrokerListenerName,
	}
	for host, n := range s.PerIPOverrides {
		for _, a := range q.resolve(host) {
			l.PerIPOverrides[a] = n
		}
	}
	for name, ls := range s.Listeners {
		l.Listeners[name] = quota.ListenerLimits{MaxConnections: ls.MaxConnections, MaxConnectionCreationRate: ls.MaxConnectionCreationRate}
	}
	q.conns.SetLimits(l)
}

// resolve turns an IP or host name into addresses, as Kafka's
// InetAddress.getByName; names are looked up once.
func (q *serverQuotas) resolve(host string) []netip.Addr {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	if addrs, ok := q.last.hosts[host]; ok {
		return addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		q.logger.Warn("cannot resolve a host of a connection limit; the limit does not apply to it", zap.String("host", host), zap.Error(err))
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	q.last.hosts[host] = addrs
	return addrs
}

// clientQuotas is the server's client quota manager; nil (enforcing
// nothing) for a Server built without quotas, as some tests build it.
func (s *Server) clientQuotas() *quota.Manager {
	if s.quotas == nil {
		return nil
	}
	return s.quotas.clients
}

// draining ends when the server stops accepting (nil: never).
func (s *Server) draining() <-chan struct{} {
	if s.quotas == nil {
		return nil
	}
	return s.quotas.acceptCtx.Done()
}

// principalName is the name of the connection's principal: the user of
// user quotas (conn_auth.go sets it; a connection nobody authenticated is
// Kafka's ANONYMOUS).
func (c *conn) principalName() string {
	if c.principal.Name == "" {
		return auth.Anonymous.Name
	}
	return c.principal.Name
}

// quotaClient is who a request is from, for quotas.
func (c *conn) quotaClient(hdr *protocol.RequestHeader) quota.Client {
	id := ""
	if hdr.ClientID != nil {
		id = *hdr.ClientID
	}
	return quota.Client{User: c.principalName(), ClientID: id}
}

// requestQuota is one request's quota accounting.
type requestQuota struct {
	client quota.Client
	size   int32     // the request's size as read (Produce is metered by it)
	start  time.Time // when the handler started
	// waited is handler time spent waiting for others (a long-polling
	// fetch, acks=all): not request handler time, as Kafka parks such
	// requests in purgatory.
	waited time.Duration
	// exempt requests are not metered by request_percentage.
	exempt bool
	// requestDone: the handler already recorded request_percentage
	// (requestMs is its throttle).
	requestDone bool
	requestMs   int32
	// apiMs is a byte-rate throttle from the handler, of type apiType.
	apiMs    int32
	apiType  quota.Type
	mutation *quota.MutationQuota // CreateTopics, CreatePartitions, DeleteTopics
}

// requestExempt are the APIs Kafka answers with sendResponseExemptThrottle.
var requestExempt = map[int16]bool{
	protocol.KeyWriteTxnMarkers: true,
	protocol.KeyAlterPartition:  true,
}

// waiting marks the start of a wait that is not request handler time; call
// the returned func when it ends.
func (rc *reqCtx) waiting() func() {
	start := time.Now()
	return func() { rc.quota.waited += time.Since(start) }
}

// nanosToPercent is Kafka's ClientRequestQuotaManager.nanosToPercentage:
// handler time as percent-seconds of one request handler thread.
func nanosToPercent(d time.Duration) float64 { return float64(d.Nanoseconds()) * 100 / 1e9 }

// recordRequestQuota records the handler time so far against
// request_percentage, once.
func (rc *reqCtx) recordRequestQuota() int32 {
	q := &rc.quota
	if q.requestDone || q.exempt {
		return q.requestMs
	}
	q.requestDone = true
	busy := time.Since(q.start) - q.waited
	q.requestMs = rc.c.s.clientQuotas().RecordAndThrottle(quota.Request, q.client, nanosToPercent(max(busy, 0)))
	return q.requestMs
}

// recordProduce meters a Produce request: its size against
// producer_byte_rate and, unless acks=0 (exempt, as in Kafka), its handler
// time against request_percentage.
func (rc *reqCtx) recordProduce(acks int16) {
	q := &rc.quota
	q.apiMs = rc.c.s.clientQuotas().RecordAndThrottle(quota.Produce, q.client, float64(q.size))
	q.apiType = quota.Produce
	if acks == 0 {
		q.exempt = true
		return
	}
	rc.recordRequestQuota()
}

// mutationQuota returns ctx charging the client's controller mutation
// quota: strict from version strictSince on (KIP-599), permissive before.
func (rc *reqCtx) mutationQuota(ctx context.Context, strictSince int16) context.Context {
	mq := rc.c.s.clientQuotas().MutationQuota(rc.quota.client, rc.v >= strictSince)
	if mq == nil {
		return ctx
	}
	rc.quota.mutation = mq
	return controller.WithPartitionChangeQuota(ctx, func(partitions int) error {
		if err := mq.Record(float64(partitions)); err != nil {
			return fmt.Errorf("%w: %s", controller.ErrThrottlingQuotaExceeded, throttlingQuotaExceededMessage)
		}
		return nil
	})
}

// throttlingQuotaExceededMessage is Errors.THROTTLING_QUOTA_EXCEEDED's
// message, which Kafka puts in the topic's error message.
const throttlingQuotaExceededMessage = "The throttling quota has been exceeded."

// fetchMaxBytes caps a consumer fetch at what its consumer_byte_rate allows
// in one quota window (Kafka's getMaxValueInQuotaWindow); followers are
// exempt from client quotas.
func (rc *reqCtx) fetchMaxBytes(maxBytes int, replicaID int32) int {
	if replicaID >= 0 {
		rc.quota.exempt = true
		return maxBytes
	}
	limit := rc.c.s.clientQuotas().MaxValueInWindow(quota.Fetch, rc.quota.client)
	if limit < float64(maxBytes) {
		return max(int(limit), 0)
	}
	return maxBytes
}

// throttleFetch meters a consumer fetch about to return size bytes, as
// Kafka's handleFetchRequest: request_percentage and consumer_byte_rate;
// over either, the fetch is answered empty and its bytes are taken back.
// It reports whether the fetch is throttled.
func (rc *reqCtx) throttleFetch(size int) bool {
	if rc.quota.exempt {
		return false
	}
	m := rc.c.s.clientQuotas()
	requestMs := rc.recordRequestQuota()
	bandwidthMs := m.RecordAndThrottle(quota.Fetch, rc.quota.client, float64(size))
	rc.quota.apiMs, rc.quota.apiType = bandwidthMs, quota.Fetch
	if max(requestMs, bandwidthMs) <= 0 {
		return false
	}
	m.Unrecord(quota.Fetch, rc.quota.client, float64(size))
	return true
}

// finishQuotas meters the request against request_percentage (unless its
// handler did), picks the longest throttle, puts it into the response's
// throttle_time_ms and mutes the connection for it. resp may be nil
// (acks=0).
func (c *conn) finishQuotas(rc *reqCtx, resp protocol.Response) {
	q := &rc.quota
	m := c.s.clientQuotas()
	rc.recordRequestQuota()
	apiMs, apiType := q.apiMs, q.apiType
	if q.mutation != nil {
		apiMs, apiType = q.mutation.ThrottleMs(), quota.ControllerMutation
	}
	ms, typ := q.requestMs, quota.Request
	if apiMs > q.requestMs {
		ms, typ = apiMs, apiType
	}
	if ms <= 0 {
		return
	}
	m.Throttled(typ, q.client, ms)
	if resp != nil {
		setThrottleTime(resp, ms)
	}
	c.throttleFor(time.Duration(ms) * time.Millisecond)
}

// throttleFields caches, per response type, the index of its
// ThrottleTimeMs field (-1: none).
var throttleFields sync.Map

// setThrottleTime sets resp's ThrottleTimeMs, if it has one (Kafka's
// AbstractResponse.maybeSetThrottleTimeMs).
func setThrottleTime(resp protocol.Response, ms int32) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	e := v.Elem()
	idx, ok := throttleFields.Load(e.Type())
	if !ok {
		f, found := e.Type().FieldByName("ThrottleTimeMs")
		i := -1
		if found && f.Type.Kind() == reflect.Int32 && len(f.Index) == 1 {
			i = f.Index[0]
		}
		throttleFields.Store(e.Type(), i)
		idx = i
	}
	if i := idx.(int); i >= 0 {
		e.Field(i).SetInt(int64(ms))
	}
}

// connThrottle is a connection's mute state (Kafka's channel throttling).
type connThrottle struct {
	until atomic.Int64 // unix nanoseconds; the connection is muted before it
}

// throttleFor mutes the connection for d from now.
func (c *conn) throttleFor(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.throttle.until.Load()
		if cur >= until || c.throttle.until.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitUnthrottled waits until the connection is no longer muted, or the
// server is shutting down. False: the connection is closing.
func (c *conn) waitUnthrottled() bool {
	for {
		left := time.Until(time.Unix(0, c.throttle.until.Load()))
		if left <= 0 {
			return true
		}
		t := time.NewTimer(left)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return false
		case <-c.s.draining():
			t.Stop()
			return true
		case <-t.C:
		}
	}
}

// admit applies the connection limits to a connection just accepted on
// listener (Kafka's ConnectionQuotas.inc): it may wait for a slot, and it
// closes connections over a per-IP limit, at once or (connection rate
// quota) after the throttle time. False: do not serve nc.
func (s *Server) admit(nc net.Conn, listener string) bool {
	q := s.quotas
	if q == nil {
		return true
	}
	q.follow(s.broker.image.Load())
	addr := remoteAddr(nc)
	verdict, delay, ok := q.conns.Accept(q.acceptCtx, listener, addr)
	if !ok {
		_ = nc.Close()
		return false
	}
	switch verdict {
	case quota.TooManyFromIP:
		s.logger.Info("rejected connection: the address already has the configured maximum of connections (max.connections.per.ip)",
			zap.String("listener", listener), zap.Stringer("remote", addr))
		_ = nc.Close()
		return false
	case quota.IPThrottled:
		// Kafka keeps the socket open, unread, until the throttle time
		// has passed, then closes it.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.ctx.Done():
			case <-q.acceptCtx.Done():
			}
			_ = nc.Close()
		}()
		return false
	}
	return true
}

// release uncounts a connection admit let in.
func (s *Server) release(nc net.Conn, listener string) {
	if s.quotas != nil {
		s.quotas.conns.Release(listener, remoteAddr(nc))
	}
}

func remoteAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
