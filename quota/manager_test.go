package quota

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock tests step by hand.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) now() time.Time        { return c.t }
func (c *fakeClock) sleep(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) sleepMs(ms int64)      { c.sleep(time.Duration(ms) * time.Millisecond) }
func ptrFloat(v float64) *float64          { return &v }
func user(n string) EntityName             { return Name(n) }
func clientEntity(n EntityName) Entity     { return Entity{ClientID: n} }
func userEntity(n EntityName) Entity       { return Entity{User: n} }
func userClient(u, c EntityName) Entity    { return Entity{User: u, ClientID: c} }
func anonymous(clientID string) Client     { return Client{User: "ANONYMOUS", ClientID: clientID} }

// quotaSet holds a whole set of quotas as the metadata image does and
// applies it after each change, as the broker does on a new image.
type quotaSet struct {
	m   *Manager
	all map[Entity]map[string]float64
}

func (s *quotaSet) set(e Entity, key string, v *float64) {
	if s.all == nil {
		s.all = map[Entity]map[string]float64{}
	}
	kv := map[string]float64{}
	for k, x := range s.all[e] {
		kv[k] = x
	}
	if v == nil {
		delete(kv, key)
	} else {
		kv[key] = *v
	}
	if len(kv) == 0 {
		delete(s.all, e)
	} else {
		s.all[e] = kv
	}
	s.m.Apply(s.all)
}

// TestRateThrottleTime follows Kafka's ClientQuotaManagerTest
// testQuotaViolation: under the quota nothing is throttled; a spike is
// throttled for (observed-quota)/quota × the window the rate spans.
func TestRateThrottleTime(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now})
	qs := &quotaSet{m: m}
	qs.set(clientEntity(DefaultName), ProducerByteRate, ptrFloat(500))
	c := anonymous("unknown")
	for range 10 {
		require.Zero(t, m.RecordAndThrottle(Produce, c, 400))
		clk.sleep(time.Second)
	}
	// 400*10 + 2300 = 6300 bytes over 10.5 s = 600 bytes/s:
	// (600-500)/500 × 10.5 s = 2100 ms.
	clk.sleepMs(500)
	require.EqualValues(t, 2100, m.RecordAndThrottle(Produce, c, 2300))
	clk.sleepMs(2100)
	for range 10 {
		m.RecordAndThrottle(Produce, c, 400)
		clk.sleep(time.Second)
	}
	require.Zero(t, m.RecordAndThrottle(Produce, c, 0), "the bursty sample has rolled over")
}

// TestQuotaPrecedence is the precedence table of Kafka's
// DefaultQuotaCallback, with the cases of ClientQuotaManagerTest
// testQuotaConfigPrecedence: which bound applies and which clients share a
// rate (recording value×11 samples throttles only when the shared rate
// goes over the bound).
func TestQuotaPrecedence(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now})
	qs := &quotaSet{m: m}
	set := func(e Entity, v float64) { qs.set(e, ProducerByteRate, ptrFloat(v)) }
	unset := func(e Entity) { qs.set(e, ProducerByteRate, nil) }
	set(userEntity(DefaultName), 1000)
	set(clientEntity(DefaultName), 2000)
	set(userClient(DefaultName, DefaultName), 3000)
	set(userEntity(user("userA")), 4000)
	set(userClient(user("userA"), Name("client1")), 5000)
	set(userEntity(user("userB")), 6000)
	set(userClient(user("userB"), Name("client1")), 7000)
	set(userClient(user("userB"), DefaultName), 8000)
	set(userEntity(user("userC")), 10000)
	set(clientEntity(Name("client1")), 9000)

	type check struct {
		user, client string
		bound        float64
		value        float64
		throttle     bool
		why          string
	}
	run := func(checks []check) {
		t.Helper()
		for _, ck := range checks {
			c := Client{User: ck.user, ClientID: ck.client}
			b, ok := m.Bound(Produce, c)
			require.True(t, ok, "%s/%s", ck.user, ck.client)
			require.Equal(t, ck.bound, b, "%s/%s: %s", ck.user, ck.client, ck.why)
			require.Equal(t, ck.bound*10, m.MaxValueInWindow(Produce, c))
			got := m.RecordAndThrottle(Produce, c, ck.value*11)
			require.Equal(t, ck.throttle, got > 0, "%s/%s: %s (throttle %d ms)", ck.user, ck.client, ck.why, got)
		}
	}
	run([]check{
		{"userA", "client1", 5000, 4500, false, "<user, client> beats <user>"},
		{"userA", "client2", 4000, 4500, true, "<user> beats <client> and the defaults"},
		{"userA", "client3", 4000, 0, true, "<user> is shared by the user's clients"},
		{"userA", "client1", 5000, 0, false, "<user, client> is the pair's own"},
		{"userB", "client1", 7000, 8000, true, ""},
		{"userB", "client2", 8000, 7000, false, "<user, default client> is per client"},
		{"userB", "client3", 8000, 7000, false, ""},
		{"userD", "client1", 3000, 3500, true, "<default user, default client>"},
		{"userD", "client2", 3000, 2500, false, ""},
		{"userE", "client1", 3000, 2500, false, ""},
	})
	unset(userClient(DefaultName, DefaultName))
	run([]check{
		{"userD", "client1", 1000, 0, false, "the tags changed: a new rate"},
		{"userE", "client4", 1000, 1500, true, ""},
		{"userF", "client4", 1000, 800, false, "<default user> is shared by the user's clients"},
		{"userF", "client5", 1000, 800, true, ""},
	})
	unset(userEntity(DefaultName))
	run([]check{
		{"userF", "client4", 2000, 0, false, "<default client> is shared by every user of the client id"},
		{"userF", "client5", 2000, 0, false, ""},
		{"userF", "client5", 2000, 2500, true, ""},
		{"userG", "client5", 2000, 0, true, ""},
	})
	set(userEntity(user("userA")), 8000)
	set(userClient(user("userA"), Name("client1")), 10000)
	run([]check{
		{"userA", "client2", 8000, 0, false, ""},
		{"userA", "client2", 8000, 4500, true, "the earlier usage counts against the new bound"},
		{"userA", "client1", 10000, 0, false, ""},
		{"userA", "client1", 10000, 6000, true, ""},
	})
	unset(userClient(user("userA"), Name("client1")))
	run([]check{{"userA", "client6", 8000, 0, true, "shared <user> rate"}})
	set(userClient(user("userA"), Name("client6")), 11000)
	run([]check{{"userA", "client6", 11000, 8500, false, ""}})
	set(userClient(user("userA"), DefaultName), 12000)
	unset(userClient(user("userA"), Name("client6")))
	run([]check{{"userA", "client6", 12000, 4000, true, ""}})
}

// TestQuotaLevels checks the single-level shortcuts: with only client-id
// quotas every client-id has its own rate whatever the user, and a client
// without a matching entity is never throttled.
func TestQuotaLevels(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now})
	require.False(t, m.Enabled(Produce))
	require.Zero(t, m.RecordAndThrottle(Produce, anonymous("a"), 1e12), "no quota: nothing recorded")
	qs := &quotaSet{m: m}
	qs.set(clientEntity(Name("slow")), ProducerByteRate, ptrFloat(100))
	require.True(t, m.Enabled(Produce))
	require.False(t, m.Enabled(Fetch))
	require.Zero(t, m.RecordAndThrottle(Produce, anonymous("fast"), 1e9))
	require.Positive(t, m.RecordAndThrottle(Produce, Client{User: "alice", ClientID: "slow"}, 2000))
	require.Positive(t, m.RecordAndThrottle(Produce, Client{User: "bob", ClientID: "slow"}, 0), "client-id quotas ignore the user")
	_, ok := m.Bound(Produce, anonymous(""))
	require.False(t, ok, "an empty client id matches no client-id entity")
	require.Equal(t, math.Inf(1), m.MaxValueInWindow(Produce, anonymous("fast")))

	// Removing the quota keeps the type enabled (Kafka: until restart)
	// but nobody is throttled.
	qs.set(clientEntity(Name("slow")), ProducerByteRate, nil)
	require.True(t, m.Enabled(Produce))
	require.Zero(t, m.RecordAndThrottle(Produce, anonymous("slow"), 1e9))
}

// TestRequestThrottleIsCapped: request_percentage throttles never exceed
// one quota window (Kafka's ClientRequestQuotaManager).
func TestRequestThrottleIsCapped(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now})
	qs := &quotaSet{m: m}
	qs.set(clientEntity(Name("busy")), RequestPercentage, ptrFloat(1))
	// 100 percent-seconds is one handler busy for a whole second.
	require.EqualValues(t, 1000, m.RecordAndThrottle(Request, anonymous("busy"), 100))
}

// TestUnrecord: a throttled fetch takes its bytes back.
func TestUnrecord(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now})
	qs := &quotaSet{m: m}
	qs.set(clientEntity(Name("c")), ConsumerByteRate, ptrFloat(100))
	c := anonymous("c")
	require.Positive(t, m.RecordAndThrottle(Fetch, c, 5000))
	m.Unrecord(Fetch, c, 5000)
	require.Zero(t, m.RecordAndThrottle(Fetch, c, 900))
}

// TestMutationQuota follows Kafka's Strict/PermissiveControllerMutationQuotaTest
// (10 mutations/s, 10 windows of 1 s: a burst of 100 tokens).
func TestMutationQuota(t *testing.T) {
	for _, strict := range []bool{true, false} {
		clk := newFakeClock()
		m := NewManager(Config{Now: clk.now, ControllerSamples: 10})
		qs := &quotaSet{m: m}
		require.Nil(t, m.MutationQuota(anonymous("c"), strict), "no quota configured: unbounded")
		qs.set(userClient(Name("ANONYMOUS"), Name("c")), ControllerMutationRate, ptrFloat(10))
		q := m.MutationQuota(anonymous("c"), strict)
		require.NoError(t, q.Record(90)) // 100 → 10
		require.Zero(t, q.ThrottleMs())
		require.NoError(t, q.Record(90)) // 10 → -80, still accepted
		if strict {
			require.Zero(t, q.ThrottleMs())
			err := q.Record(90)
			var te *ThrottledError
			require.ErrorAs(t, err, &te)
			require.True(t, errors.Is(err, ErrThrottled))
			require.EqualValues(t, 8000, te.ThrottleMs)
			require.EqualValues(t, 8000, q.ThrottleMs())
			clk.sleepMs(5000)
			require.EqualValues(t, 3000, q.ThrottleMs())
		} else {
			require.EqualValues(t, 8000, q.ThrottleMs())
			require.NoError(t, q.Record(90)) // -170: permissive never refuses
			require.EqualValues(t, 17000, q.ThrottleMs())
			clk.sleepMs(5000)
			require.EqualValues(t, 12000, q.ThrottleMs())
		}
	}
}

// TestMutationQuotaRefill follows ControllerMutationQuotaManagerTest: a
// spike is accepted while tokens remain, the next is refused for the time
// the deficit takes to refill, and accepted after it.
func TestMutationQuotaRefill(t *testing.T) {
	clk := newFakeClock()
	m := NewManager(Config{Now: clk.now, ControllerSamples: 10})
	qs := &quotaSet{m: m}
	qs.set(userClient(Name("ANONYMOUS"), Name("test-client")), ControllerMutationRate, ptrFloat(10))
	c := anonymous("test-client")
	for range 10 {
		require.NoError(t, m.MutationQuota(c, true).Record(10))
		clk.sleep(time.Second)
	}
	require.NoError(t, m.MutationQuota(c, true).Record(110)) // 100 → -10
	var te *ThrottledError
	require.ErrorAs(t, m.MutationQuota(c, true).Record(110), &te)
	require.EqualValues(t, 1000, te.ThrottleMs)
	clk.sleepMs(1000)
	require.NoError(t, m.MutationQuota(c, true).Record(110))
}
