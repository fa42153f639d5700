package telemetry

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spool-broker/spool/protocol/records"
)

// Errors of GetTelemetrySubscriptions and PushTelemetry; the handlers turn
// them into Kafka's codes.
var (
	ErrThrottled              = errors.New("telemetry: request arrived before the next push interval") // THROTTLING_QUOTA_EXCEEDED
	ErrUnknownSubscriptionID  = errors.New("telemetry: unknown client subscription id")                // UNKNOWN_SUBSCRIPTION_ID
	ErrTooLarge               = errors.New("telemetry: payload larger than telemetry.max.bytes")       // TELEMETRY_TOO_LARGE
	ErrUnsupportedCompression = errors.New("telemetry: unsupported compression type")                  // UNSUPPORTED_COMPRESSION_TYPE
)

// AcceptedCompressionTypes is what the broker offers, in its order of
// preference (Kafka: zstd, lz4, gzip, snappy).
var AcceptedCompressionTypes = []int8{int8(records.CompressionZstd), int8(records.CompressionLZ4), int8(records.CompressionGzip), int8(records.CompressionSnappy)}

const (
	// maxInstances bounds the client instances remembered (Kafka's
	// ClientMetricsManager cache: 16384 per broker); the least recently
	// seen is forgotten first.
	maxInstances = 16384
	// instanceExpiry: an instance not heard from for max(this, 3 push
	// intervals) is forgotten, and its series leave /metrics.
	instanceExpiry = time.Minute
)

// Config bounds what a Manager keeps.
type Config struct {
	// MaxBytes is telemetry.max.bytes: the largest payload accepted,
	// compressed and decompressed.
	MaxBytes int32
	// MaxClients is the most client instances whose pushed metrics are
	// exported; later instances' pushes are accepted but not exported
	// (spool_client_telemetry_dropped_points_total{reason="clients"}).
	MaxClients int
	// MaxSeriesPerClient is the most series one instance exports; new
	// series past it are dropped (reason="series").
	MaxSeriesPerClient int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Client is what the broker knows of the connection a request came on:
// the values match patterns select on.
type Client struct {
	ClientID        string
	SoftwareName    string
	SoftwareVersion string
	SourceAddress   string
	SourcePort      string
}

// Subscribed is the answer to GetTelemetrySubscriptions.
type Subscribed struct {
	ClientInstanceID [16]byte
	SubscriptionID   int32
	PushIntervalMs   int32
	RequestedMetrics []string
}

// Push is a PushTelemetry request.
type Push struct {
	ClientInstanceID [16]byte
	SubscriptionID   int32
	Terminating      bool
	CompressionType  int8
	Metrics          []byte
}

// Manager holds the subscriptions (from the client-metrics config
// resources of the metadata image), the client instances that asked for
// them, and the metrics they pushed, which it exports as a Prometheus
// collector (collector.go).
//
// Concurrency: every method may be called from any goroutine; one mutex
// guards everything, held only for map work (decompression and decoding
// happen outside it).
type Manager struct {
	cfg Config
	now func() time.Time

	mu sync.Mutex
	// subs are the subscriptions by name; subsVersion counts their
	// changes, so an instance built under an older set is rebuilt.
	subs        map[string]map[string]string
	parsed      []Subscription
	subsVersion int
	instances   map[[16]byte]*instance
	lastSweep   time.Time
	// exported counts the instances that have series (<= MaxClients).
	exported int
	stats    stats
}

type instance struct {
	id       [16]byte
	attrs    map[string]string // selector → value
	client   Client
	version  int
	subID    int32
	interval time.Duration
	metrics  []string

	lastGet, lastPush time.Time
	lastSeen          time.Time
	terminating       bool
	// lastErr is the last error answered: after UNKNOWN_SUBSCRIPTION_ID or
	// UNSUPPORTED_COMPRESSION_TYPE a GetTelemetrySubscriptions is never
	// throttled, as Kafka.
	lastErr error

	// series are the exported values by series key (collector.go); nil
	// until the first accepted point; resource are the payload's resource
	// attributes (the info series).
	series   map[string]*series
	resource []Attr
}

type stats struct {
	pushes        map[string]uint64 // by result
	gets          map[string]uint64
	droppedPoints map[string]uint64 // by reason
}

// NewManager returns a Manager with no subscriptions.
func NewManager(cfg Config) *Manager {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1048576
	}
	if cfg.MaxClients < 0 {
		cfg.MaxClients = 0
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Manager{
		cfg: cfg, now: now,
		subs:      map[string]map[string]string{},
		instances: map[[16]byte]*instance{},
		stats: stats{
			pushes:        map[string]uint64{},
			gets:          map[string]uint64{},
			droppedPoints: map[string]uint64{},
		},
	}
}

// SetSubscriptions replaces the subscriptions with the client-metrics
// resources' configs (name → configs). Resources whose configs fail
// validation (written by an older or other broker) are ignored. Instances
// pick up a change at their next request.
func (m *Manager) SetSubscriptions(resources map[string]map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if maps.EqualFunc(m.subs, resources, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
		return
	}
	m.subs = make(map[string]map[string]string, len(resources))
	m.parsed = m.parsed[:0]
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		cfg := maps.Clone(resources[name])
		m.subs[name] = cfg
		if s, err := ParseSubscription(name, cfg); err == nil {
			m.parsed = append(m.parsed, s)
		}
	}
	m.subsVersion++
}

// Subscriptions lists the subscription names, sorted.
func (m *Manager) Subscriptions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.subs))
}

// GetSubscriptions answers GetTelemetrySubscriptions. A zero id asks for a
// new client instance id. It fails with ErrThrottled when the instance
// asks again before its push interval has passed since its last request.
func (m *Manager) GetSubscriptions(id [16]byte, c Client) (Subscribed, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	if id == ([16]byte{}) {
		id = m.newIDLocked()
	}
	inst := m.instanceLocked(id, c, now)
	// The first request of an instance is always accepted; then one per
	// push interval since the last Get or Push.
	last := inst.lastGet
	if inst.lastPush.After(last) {
		last = inst.lastPush
	}
	if !last.IsZero() && now.Sub(last) < inst.interval &&
		!errors.Is(inst.lastErr, ErrUnknownSubscriptionID) && !errors.Is(inst.lastErr, ErrUnsupportedCompression) {
		m.stats.gets["throttled"]++
		return Subscribed{}, fmt.Errorf("%w: request from the client [%s] arrived before the next push interval time", ErrThrottled, uuidString(id))
	}
	inst.lastGet = now
	inst.lastErr = nil
	m.stats.gets["ok"]++
	return Subscribed{
		ClientInstanceID: id,
		SubscriptionID:   inst.subID,
		PushIntervalMs:   int32(inst.interval / time.Millisecond),
		RequestedMetrics: slices.Clone(inst.metrics),
	}, nil
}

// ValidatePush checks a PushTelemetry request against the instance as
// Kafka's ClientMetricsManager does, in its order: an instance that said
// it was terminating, too early (a terminating push is never early),
// subscription id, compression type, size. It records the push's time
// and terminating flag.
func (m *Manager) ValidatePush(p *Push, c Client) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	inst := m.instanceLocked(p.ClientInstanceID, c, now)
	err := m.validatePushLocked(inst, p, now)
	inst.terminating = inst.terminating || p.Terminating
	inst.lastErr = err
	if err != nil {
		m.stats.pushes[resultOf(err)]++
	}
	return err
}

func (m *Manager) validatePushLocked(inst *instance, p *Push, now time.Time) error {
	id := uuidString(p.ClientInstanceID)
	if inst.terminating {
		return fmt.Errorf("%w: client [%s] sent the previous request with state terminating to TRUE, can not accept any requests after that", ErrInvalidRequest, id)
	}
	// A push right after a Get is accepted whatever the interval: the
	// client jitters its first push between 0.5 and 1.5 intervals.
	accept := inst.lastGet.After(inst.lastPush) || inst.lastGet.IsZero() && inst.lastPush.IsZero() ||
		now.Sub(inst.lastPush) >= inst.interval
	if !accept && !p.Terminating {
		return fmt.Errorf("%w: request from the client [%s] arrived before the next push interval time", ErrThrottled, id)
	}
	inst.lastPush = now
	if p.SubscriptionID != inst.subID {
		return fmt.Errorf("%w: unknown client subscription id for the client [%s]", ErrUnknownSubscriptionID, id)
	}
	if !slices.Contains(AcceptedCompressionTypes, p.CompressionType) && p.CompressionType != int8(records.CompressionNone) {
		return fmt.Errorf("%w: unknown compression type [%d] is received in telemetry request from [%s]", ErrUnsupportedCompression, p.CompressionType, id)
	}
	if len(p.Metrics) > int(m.cfg.MaxBytes) {
		return fmt.Errorf("%w: telemetry request from [%s] is larger than the maximum allowed size [%d]", ErrTooLarge, id, m.cfg.MaxBytes)
	}
	return nil
}

// Export decompresses and decodes a validated push's payload and records
// its points for /metrics. ErrTooLarge: the payload decompresses past
// MaxBytes; ErrMalformed: it is not OTLP (or not validly compressed).
func (m *Manager) Export(p *Push) error {
	if len(p.Metrics) == 0 {
		m.record(p.ClientInstanceID, nil, nil)
		return nil
	}
	raw, err := records.Decompress(nil, records.Compression(p.CompressionType), p.Metrics, int(m.cfg.MaxBytes))
	var md *MetricsData
	switch {
	case errors.Is(err, records.ErrTooLarge):
		err = fmt.Errorf("%w: decompressed payload", ErrTooLarge)
	case err != nil:
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	default:
		md, err = DecodeMetricsData(raw)
	}
	m.record(p.ClientInstanceID, md, err)
	return err
}

func (m *Manager) record(id [16]byte, md *MetricsData, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst := m.instances[id]
	if inst != nil {
		inst.lastErr = err
	}
	m.stats.pushes[resultOf(err)]++
	if err != nil || md == nil || inst == nil {
		return
	}
	m.exportLocked(inst, md)
}

func resultOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, ErrUnknownSubscriptionID):
		return "unknown_subscription_id"
	case errors.Is(err, ErrTooLarge):
		return "telemetry_too_large"
	case errors.Is(err, ErrUnsupportedCompression):
		return "unsupported_compression_type"
	case errors.Is(err, ErrMalformed):
		return "invalid_record"
	}
	return "invalid_request"
}

// instanceLocked returns the instance for id, made (or remade, when the
// subscriptions changed since) from the subscriptions that match it.
func (m *Manager) instanceLocked(id [16]byte, c Client, now time.Time) *instance {
	inst := m.instances[id]
	if inst == nil || inst.version != m.subsVersion {
		if inst == nil && len(m.instances) >= maxInstances {
			m.evictOldestLocked()
		}
		fresh := m.newInstanceLocked(id, c)
		if inst != nil { // keep what was exported across a subscription change
			fresh.series, fresh.resource = inst.series, inst.resource
		}
		inst = fresh
		m.instances[id] = inst
	}
	inst.lastSeen = now
	return inst
}

func (m *Manager) newInstanceLocked(id [16]byte, c Client) *instance {
	inst := &instance{
		id: id, client: c, version: m.subsVersion,
		attrs: map[string]string{
			SelectorInstanceID:      uuidString(id),
			SelectorClientID:        c.ClientID,
			SelectorSoftwareName:    c.SoftwareName,
			SelectorSoftwareVersion: c.SoftwareVersion,
			SelectorSourceAddress:   c.SourceAddress,
			SelectorSourcePort:      c.SourcePort,
		},
	}
	interval := int32(DefaultIntervalMs)
	set := map[string]bool{}
	all := false
	for i := range m.parsed {
		s := &m.parsed[i]
		if !s.matches(inst.attrs) {
			continue
		}
		for _, name := range s.Metrics {
			set[name] = true
			all = all || name == AllMetrics
		}
		interval = min(interval, s.IntervalMs)
	}
	if all {
		set = map[string]bool{AllMetrics: true}
	}
	inst.metrics = slices.Sorted(maps.Keys(set))
	inst.interval = time.Duration(interval) * time.Millisecond
	inst.subID = subscriptionID(inst.metrics, interval, id)
	return inst
}

// subscriptionID identifies an instance's subscription: CRC32C of the
// requested metrics and push interval, XORed with the instance id's hash
// (Kafka's computeSubscriptionId, with the metrics sorted).
func subscriptionID(metrics []string, intervalMs int32, id [16]byte) int32 {
	s := "[" + strings.Join(metrics, ", ") + "]" + fmt.Sprint(intervalMs)
	crc := crc32.Checksum([]byte(s), crc32.MakeTable(crc32.Castagnoli))
	h := binary.BigEndian.Uint64(id[:8]) ^ binary.BigEndian.Uint64(id[8:])
	return int32(crc) ^ (int32(h>>32) ^ int32(h))
}

// newIDLocked draws a random client instance id that is not in use and
// not one of Kafka's reserved ids.
func (m *Manager) newIDLocked() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])
		if !Reserved(id) && m.instances[id] == nil {
			return id
		}
	}
}

// Reserved reports Kafka's reserved UUIDs (Uuid.RESERVED): zero, one and
// the metadata topic's id, none of which may name a client instance.
func Reserved(id [16]byte) bool {
	var one [16]byte
	one[15] = 1
	return id == [16]byte{} || id == one
}

// sweepLocked forgets, at most once a second, instances not heard from
// for max(1 minute, 3 push intervals) and their series.
func (m *Manager) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < time.Second {
		return
	}
	m.lastSweep = now
	for id, inst := range m.instances {
		if now.Sub(inst.lastSeen) > max(instanceExpiry, 3*inst.interval) {
			m.forgetLocked(id)
		}
	}
}

func (m *Manager) evictOldestLocked() {
	var oldest *instance
	for _, inst := range m.instances {
		if oldest == nil || inst.lastSeen.Before(oldest.lastSeen) {
			oldest = inst
		}
	}
	if oldest != nil {
		m.forgetLocked(oldest.id)
	}
}

func (m *Manager) forgetLocked(id [16]byte) {
	if inst := m.instances[id]; inst != nil && inst.series != nil {
		m.exported--
	}
	delete(m.instances, id)
}

// Instances is the number of client instances known.
func (m *Manager) Instances() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.instances)
}

func uuidString(id [16]byte) string {
	// Kafka prints a Uuid as URL-safe base64 without padding.
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	var acc uint32
	bits := 0
	for _, c := range id {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			b.WriteByte(enc[(acc>>uint(bits))&63])
		}
	}
	if bits > 0 {
		b.WriteByte(enc[(acc<<uint(6-bits))&63])
	}
	return b.String()
}

// sortAttrs sorts attributes by key, keeping the first of duplicate keys.
func sortAttrs(a []Attr) []Attr {
	sort.SliceStable(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	return slices.CompactFunc(a, func(x, y Attr) bool { return x.Key == y.Key })
}
