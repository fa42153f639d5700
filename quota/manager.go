package quota

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Type is a client quota type (Kafka's QuotaType); each has its own quotas,
// rates and metrics.
type Type int8

const (
	Produce            Type = iota // producer_byte_rate: bytes of Produce requests
	Fetch                          // consumer_byte_rate: bytes of Fetch responses
	Request                        // request_percentage: request handler time
	ControllerMutation             // controller_mutation_rate: partitions created or deleted
	numTypes
)

var typeNames = [numTypes]string{"Produce", "Fetch", "Request", "ControllerMutation"}

// typeKeys are the quota keys of each type.
var typeKeys = [numTypes]string{ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate}

// String is Kafka's name of the type, the metric group of its metrics.
func (t Type) String() string { return typeNames[t] }

// inactiveSensorExpiry is how long a client's rates are kept without
// activity (Kafka's InactiveSensorExpirationTimeSeconds).
const inactiveSensorExpiry = time.Hour

// throttleStatConfig is the configuration of the throttle-time average:
// Kafka's default MetricConfig, 2 samples of 30 s.
var throttleStatConfig = windowConfig{samples: 2, windowMs: 30_000}

// Config configures a Manager.
type Config struct {
	Samples                 int           // quota.window.num (default 11)
	Window                  time.Duration // quota.window.size.seconds (default 1 s)
	ControllerSamples       int           // controller.quota.window.num (default 11)
	ControllerWindow        time.Duration // controller.quota.window.size.seconds (default 1 s)
	Now                     func() time.Time
	DisableSensorExpiration bool // tests: keep idle clients' rates
}

// Client is who a request comes from, for quotas.
type Client struct {
	User     string // the principal's name; ANONYMOUS on unauthenticated connections
	ClientID string // the request header's client id ("" when null)
}

// ErrThrottled is returned by a strict MutationQuota over its quota.
var ErrThrottled = errors.New("quota: throttling quota exceeded")

// Manager enforces the client quotas of one broker (Kafka's ClientQuotaManager,
// ClientRequestQuotaManager and ControllerMutationQuotaManager): it records
// each client's usage in sampled rates keyed by quota metric tags, and says
// how long to throttle a client that is over its quota. Quotas come from the
// metadata log through Apply. Safe for concurrent use: each quota type has
// its own mutex, which is a leaf lock. A nil *Manager enforces nothing.
type Manager struct {
	now     func() time.Time
	expire  bool
	types   [numTypes]*typeManager
	applyMu sync.Mutex // serializes Apply
}

// NewManager returns a Manager with no quotas.
func NewManager(cfg Config) *Manager {
	if cfg.Samples <= 0 {
		cfg.Samples = 11
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.ControllerSamples <= 0 {
		cfg.ControllerSamples = 11
	}
	if cfg.ControllerWindow <= 0 {
		cfg.ControllerWindow = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{now: cfg.Now, expire: !cfg.DisableSensorExpiration}
	for t := range numTypes {
		w := windowConfig{samples: cfg.Samples, windowMs: cfg.Window.Milliseconds()}
		if t == ControllerMutation {
			w = windowConfig{samples: cfg.ControllerSamples, windowMs: cfg.ControllerWindow.Milliseconds()}
		}
		m.types[t] = &typeManager{typ: t, cfg: w, sensors: map[tags]*clientSensors{}}
	}
	return m
}

func (m *Manager) nowMs() int64 { return m.now().UnixMilli() }

// typeManager is the state of one quota type.
type typeManager struct {
	typ Type
	cfg windowConfig
	// enabled is quotas.enabled != 0, readable without mu: usage is
	// recorded only once some quota of the type was configured.
	enabled atomic.Bool

	mu        sync.Mutex
	quotas    typeQuotas
	sensors   map[tags]*clientSensors
	lastSweep int64
}

// clientSensors are the rates of one set of metric tags (Kafka's
// ClientSensors: the quota sensor and the throttle-time sensor).
type clientSensors struct {
	rate       rate        // Produce, Fetch, Request; ControllerMutation's mutation-rate
	bucket     tokenBucket // ControllerMutation's quota
	throttle   sampled     // throttle times, averaged (throttle-time)
	lastRecord int64
}

// Enabled reports whether any quota of type t was ever configured; until
// then nothing is recorded and nobody is throttled.
func (m *Manager) Enabled(t Type) bool { return m != nil && m.types[t].enabled.Load() }

// sensorsLocked returns the client's sensors and their bound (ok false:
// no quota applies).
func (tm *typeManager) sensorsLocked(c Client, nowMs int64, expire bool) (*clientSensors, float64, bool) {
	if expire && nowMs-tm.lastSweep >= time.Minute.Milliseconds() {
		tm.sweepLocked(nowMs)
	}
	tg := tm.quotas.tagsFor(c.User, c.ClientID)
	s := tm.sensors[tg]
	if s == nil {
		s = &clientSensors{lastRecord: nowMs}
		tm.sensors[tg] = s
	}
	bound, ok := tm.quotas.limit(tg)
	return s, bound, ok
}

// sweepLocked drops the sensors of clients idle for inactiveSensorExpiry.
func (tm *typeManager) sweepLocked(nowMs int64) {
	tm.lastSweep = nowMs
	for k, s := range tm.sensors {
		if nowMs-s.lastRecord > inactiveSensorExpiry.Milliseconds() {
			delete(tm.sensors, k)
		}
	}
}

// RecordAndThrottle records value (bytes, or for Request, percent-seconds of
// handler time) against the client's quota of type t and returns how many
// milliseconds to throttle it: 0 while the client's rate is within its
// quota, else the time its rate needs to fall back to the quota if it
// records nothing more (Kafka's maybeRecordAndGetThrottleTimeMs). Request
// throttles are capped at one quota window.
func (m *Manager) RecordAndThrottle(t Type, c Client, value float64) int32 {
	if !m.Enabled(t) {
		return 0
	}
	tm := m.types[t]
	now := m.nowMs()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s, bound, ok := tm.sensorsLocked(c, now, m.expire)
	s.lastRecord = now
	s.rate.record(tm.cfg, value, now)
	if !ok {
		return 0
	}
	observed := s.rate.measure(tm.cfg, now)
	if observed <= bound {
		return 0
	}
	ms := throttleMs(observed, bound, s.rate.windowSizeMs(tm.cfg, now))
	if t == Request {
		ms = min(ms, tm.cfg.windowMs)
	}
	return int32(min(ms, math.MaxInt32))
}

// Unrecord takes back a value recorded by RecordAndThrottle, for a Fetch
// answered empty because it was throttled (Kafka's unrecordQuotaSensor).
func (m *Manager) Unrecord(t Type, c Client, value float64) {
	if !m.Enabled(t) {
		return
	}
	tm := m.types[t]
	now := m.nowMs()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s, _, _ := tm.sensorsLocked(c, now, m.expire)
	s.rate.record(tm.cfg, -value, now)
}

// MaxValueInWindow is the most a client may record at once without being
// certain to be throttled: its quota times samples-1 windows (Kafka's
// getMaxValueInQuotaWindow). Fetch responses are capped at it. +Inf when no
// quota applies.
func (m *Manager) MaxValueInWindow(t Type, c Client) float64 {
	if !m.Enabled(t) {
		return math.Inf(1)
	}
	tm := m.types[t]
	tm.mu.Lock()
	defer tm.mu.Unlock()
	bound, ok := tm.quotas.limit(tm.quotas.tagsFor(c.User, c.ClientID))
	if !ok {
		return math.Inf(1)
	}
	return bound * float64(tm.cfg.samples-1) * float64(tm.cfg.windowMs) / 1000
}

// Throttled records that the client's channel is throttled for ms
// milliseconds because of quota type t (Kafka's ClientQuotaManager.throttle:
// the throttle-time metric).
func (m *Manager) Throttled(t Type, c Client, ms int32) {
	if ms <= 0 || !m.Enabled(t) {
		return
	}
	tm := m.types[t]
	now := m.nowMs()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s, _, _ := tm.sensorsLocked(c, now, m.expire)
	s.lastRecord = now
	s.throttle.record(throttleStatConfig, float64(ms), now)
}

// Bound returns the quota of type t that applies to the client, false for
// none (Kafka's ClientQuotaManager.quota; for tests and tools).
func (m *Manager) Bound(t Type, c Client) (float64, bool) {
	tm := m.types[t]
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.quotas.limit(tm.quotas.tagsFor(c.User, c.ClientID))
}

// Apply makes the quotas of the user and client-id entities in quotas
// (entity → key → value, as the metadata image holds them) the ones in
// force. Only the entities whose value for a type changed are updated, and
// each update enables its entity level for that type, as Kafka's replay of
// quota records does. IP entities are ignored (ConnectionQuotas takes them).
func (m *Manager) Apply(quotas map[Entity]map[string]float64) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	for t, tm := range m.types {
		key := typeKeys[t]
		want := map[Entity]float64{}
		for e, kv := range quotas {
			if e.IsIP() {
				continue
			}
			if v, ok := kv[key]; ok {
				want[e] = v
			}
		}
		tm.mu.Lock()
		for e, v := range want {
			if cur, ok := tm.quotas.bounds[e]; !ok || cur != v {
				tm.quotas.set(e, &v)
			}
		}
		for e := range tm.quotas.bounds {
			if _, ok := want[e]; !ok {
				tm.quotas.set(e, nil)
			}
		}
		tm.enabled.Store(tm.quotas.enabled != 0)
		tm.mu.Unlock()
	}
}

// MutationQuota is one request's controller mutation quota (Kafka's
// ControllerMutationQuota). A nil *MutationQuota is unbounded.
//
// Strict (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): a
// mutation is refused with ErrThrottled while the client's token bucket is
// negative, and any number of partitions is accepted while it is not.
// Permissive (older versions): every mutation is accepted and the client is
// throttled once the bucket goes negative.
type MutationQuota struct {
	m      *Manager
	c      Client
	strict bool

	mu             sync.Mutex
	lastThrottleMs int64
	lastRecordedMs int64
}

// MutationQuota returns the client's quota for one request, nil when no
// controller mutation quota was ever configured.
func (m *Manager) MutationQuota(c Client, strict bool) *MutationQuota {
	if !m.Enabled(ControllerMutation) {
		return nil
	}
	return &MutationQuota{m: m, c: c, strict: strict}
}

// Record charges partitions mutations. A strict quota over its limit
// returns an error wrapping ErrThrottled and charges nothing.
func (q *MutationQuota) Record(partitions float64) error {
	if q == nil {
		return nil
	}
	tm := q.m.types[ControllerMutation]
	now := q.m.nowMs()
	tm.mu.Lock()
	s, bound, ok := tm.sensorsLocked(q.c, now, q.m.expire)
	s.lastRecord = now
	if !ok {
		s.rate.record(tm.cfg, partitions, now)
		tm.mu.Unlock()
		return nil
	}
	var tokens float64
	exceeded := false
	if q.strict {
		if tokens = s.bucket.measure(tm.cfg, bound, now); tokens < 0 {
			exceeded = true
		} else {
			s.rate.record(tm.cfg, partitions, now)
			s.bucket.record(tm.cfg, bound, partitions, now)
		}
	} else {
		s.rate.record(tm.cfg, partitions, now)
		s.bucket.record(tm.cfg, bound, partitions, now)
		if tokens = s.bucket.measure(tm.cfg, bound, now); tokens < 0 {
			exceeded = true
		}
	}
	tm.mu.Unlock()
	if !exceeded {
		return nil
	}
	q.mu.Lock()
	// ControllerMutationQuotaManager.throttleTimeMs: the time to refill the
	// deficit at the quota rate.
	q.lastThrottleMs = int64(math.Round(-tokens / bound * 1000))
	q.lastRecordedMs = now
	ms := q.lastThrottleMs
	q.mu.Unlock()
	if q.strict {
		return &ThrottledError{ThrottleMs: int32(min(ms, math.MaxInt32))}
	}
	return nil
}

// ThrottleMs is how long the client must still wait: the last throttle
// time less what has elapsed since it was computed.
func (q *MutationQuota) ThrottleMs() int32 {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	left := q.lastThrottleMs - (q.m.nowMs() - q.lastRecordedMs)
	return int32(min(max(left, 0), math.MaxInt32))
}

// ThrottledError is a refused mutation; it wraps ErrThrottled.
type ThrottledError struct {
	ThrottleMs int32
}

func (e *ThrottledError) Error() string { return ErrThrottled.Error() }

func (e *ThrottledError) Unwrap() error { return ErrThrottled }
