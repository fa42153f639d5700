package server

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupTestEnv lets sessions as short as 500ms.
var groupTestEnv = []string{"KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS=500", "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=5", "KAFKA_GROUP_MAX_SIZE=3"}

func groupClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func groupCreateTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(groupClient(t, addr)).CreateTopic(ctx, partitions, 1, nil, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
}

// assignmentTracker records each member's current partitions.
type assignmentTracker struct {
	mu     sync.Mutex
	owned  map[int]map[int32]bool
	revoke int
}

func (a *assignmentTracker) opts(i int) []kgo.Opt {
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					a.owned[i][p] = true
				}
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if i == 0 && len(m) > 0 {
				a.revoke++ // member 0 gave something up: a rebalance moved partitions
			}
			for _, ps := range m {
				for _, p := range ps {
					delete(a.owned[i], p)
				}
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					delete(a.owned[i], p)
				}
			}
		}),
	}
}

// covered reports whether members (by index) together own exactly 0..n-1,
// each partition once, and each member owns at least one.
func (a *assignmentTracker) covered(n int, members ...int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := map[int32]int{}
	for _, i := range members {
		if len(a.owned[i]) == 0 {
			return false
		}
		for p := range a.owned[i] {
			seen[p]++
		}
	}
	if len(seen) != n {
		return false
	}
	for _, c := range seen {
		if c != 1 {
			return false
		}
	}
	return true
}

func TestGroupConsumersRebalance(t *testing.T) {
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"cooperative-sticky", kgo.CooperativeStickyBalancer()}, {"range", kgo.RangeBalancer()}} {
		t.Run(bal.name, func(t *testing.T) {
			n := startTestNode(t, groupTestEnv...)
			const topic, parts = "events", 6
			groupCreateTopic(t, n.addr, topic, parts)
			tr := &assignmentTracker{owned: map[int]map[int32]bool{}}
			var clients []*kgo.Client
			for i := range 3 {
				tr.owned[i] = map[int32]bool{}
				opts := append(tr.opts(i), kgo.ConsumeTopics(topic), kgo.ConsumerGroup("g-"+bal.name), kgo.Balancers(bal.b),
					kgo.SessionTimeout(1500*time.Millisecond), kgo.HeartbeatInterval(200*time.Millisecond), kgo.RebalanceTimeout(5*time.Second))
				if i == 2 {
					// Static: closing it doesn't leave, so only the session timeout removes it.
					opts = append(opts, kgo.InstanceID("static-2"))
				}
				cl := groupClient(t, n.addr, opts...)
				clients = append(clients, cl)
				go func() {
					for {
						if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
							return
						}
					}
				}()
			}
			require.Eventually(t, func() bool { return tr.covered(parts, 0, 1, 2) }, 30*time.Second, 50*time.Millisecond)

			clients[2].Close()
			require.Eventually(t, func() bool { return tr.covered(parts, 0, 1) }, 30*time.Second, 50*time.Millisecond,
				"partitions of the closed static member move after its session timeout")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			described, err := kadm.NewClient(groupClient(t, n.addr)).DescribeGroups(ctx, "g-"+bal.name)
			require.NoError(t, err)
			d := described["g-"+bal.name]
			require.NoError(t, d.Err)
			require.Equal(t, "consumer", d.ProtocolType)
			require.Len(t, d.Members, 2)
		})
	}
}

func TestGroupStaticMemberRestartWithoutRebalance(t *testing.T) {
	n := startTestNode(t, groupTestEnv...)
	const topic = "static"
	groupCreateTopic(t, n.addr, topic, 4)
	tr := &assignmentTracker{owned: map[int]map[int32]bool{0: {}, 1: {}, 2: {}}}
	start := func(i int, inst string) *kgo.Client {
		cl := groupClient(t, n.addr, append(tr.opts(i), kgo.ConsumeTopics(topic), kgo.ConsumerGroup("sg"), kgo.InstanceID(inst),
			kgo.SessionTimeout(20*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))...)
		go func() {
			for !cl.PollFetches(context.Background()).IsClientClosed() {
			}
		}()
		return cl
	}
	start(0, "a")
	b := start(1, "b")
	require.Eventually(t, func() bool { return tr.covered(4, 0, 1) }, 30*time.Second, 50*time.Millisecond)
	tr.mu.Lock()
	before := map[int32]bool{}
	for p := range tr.owned[1] {
		before[p] = true
	}
	revokes := tr.revoke
	tr.mu.Unlock()

	b.Close()
	start(2, "b") // same instance id, inside the session timeout
	require.Eventually(t, func() bool { return tr.covered(4, 0, 2) }, 30*time.Second, 50*time.Millisecond)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.Equal(t, before, tr.owned[2], "the restarted static member gets its old assignment")
	require.Equal(t, revokes, tr.revoke, "member 0 never gave up a partition")
}

func TestGroupOffsetsSurviveRestart(t *testing.T) {
	n := startTestNode(t, groupTestEnv...)
	const topic = "committed"
	groupCreateTopic(t, n.addr, topic, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(groupClient(t, n.addr))
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 10, LeaderEpoch: 0, Metadata: "m0"})
	offs.Add(kadm.Offset{Topic: topic, Partition: 2, At: 42, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "og", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	check := func(adm *kadm.Client) {
		t.Helper()
		var fetched kadm.OffsetResponses
		require.Eventually(t, func() bool {
			fetched, err = adm.FetchOffsets(ctx, "og")
			return err == nil && fetched.Error() == nil
		}, 30*time.Second, 50*time.Millisecond)
		o, ok := fetched.Lookup(topic, 0)
		require.True(t, ok)
		require.Equal(t, int64(10), o.At)
		require.Equal(t, "m0", o.Metadata)
		o, ok = fetched.Lookup(topic, 2)
		require.True(t, ok)
		require.Equal(t, int64(42), o.At)
		_, ok = fetched.Lookup(topic, 1)
		require.False(t, ok)
	}
	check(adm)

	// A consumer in the group commits through the group protocol too.
	cl := groupClient(t, n.addr, kgo.ConsumeTopics(topic), kgo.ConsumerGroup("og2"), kgo.SessionTimeout(10*time.Second))
	go func() {
		for !cl.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	require.Eventually(t, func() bool {
		var cerr error
		cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {1: {Epoch: -1, Offset: 7}}},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, r *kmsg.OffsetCommitResponse, err error) {
				cerr = err
				if err == nil && len(r.Topics) == 1 {
					cerr = kerr.ErrorForCode(r.Topics[0].Partitions[0].ErrorCode)
				}
			})
		return cerr == nil
	}, 30*time.Second, 100*time.Millisecond)

	n.restart()
	adm2 := kadm.NewClient(groupClient(t, n.addr))
	check(adm2)
	var fetched kadm.OffsetResponses
	require.Eventually(t, func() bool {
		fetched, err = adm2.FetchOffsets(ctx, "og2")
		if err != nil || fetched.Error() != nil {
			return false
		}
		o, ok := fetched.Lookup(topic, 1)
		return ok && o.At == 7
	}, 30*time.Second, 100*time.Millisecond)

	groups, err := adm2.ListGroups(ctx)
	require.NoError(t, err)
	names := groups.Groups()
	sort.Strings(names)
	require.Contains(t, names, "og")
}

// rawGroupRequest sends req to the group's coordinator.
func rawGroupRequest[T kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	require.NoError(t, err)
	return resp.(T)
}

func TestGroupErrorCodes(t *testing.T) {
	n := startTestNode(t, groupTestEnv...)
	cl := groupClient(t, n.addr)
	join := func(member string, inst *string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.InstanceID = "raw", member, inst
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		req.Protocols = append(req.Protocols, p)
		var resp *kmsg.JoinGroupResponse
		require.Eventually(t, func() bool {
			resp = rawGroupRequest[*kmsg.JoinGroupResponse](t, cl, req)
			return resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code && resp.ErrorCode != kerr.NotCoordinator.Code
		}, 30*time.Second, 50*time.Millisecond)
		return resp
	}
	r := join("", nil)
	require.Equal(t, kerr.MemberIDRequired.Code, r.ErrorCode)
	r = join(r.MemberID, nil)
	require.Zero(t, r.ErrorCode)
	leader, gen := r.MemberID, r.Generation

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "raw", leader, gen+5
	require.Equal(t, kerr.IllegalGeneration.Code, rawGroupRequest[*kmsg.SyncGroupResponse](t, cl, sync).ErrorCode)
	sync.Generation = gen
	require.Zero(t, rawGroupRequest[*kmsg.SyncGroupResponse](t, cl, sync).ErrorCode)

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "raw", "nobody", gen
	require.Equal(t, kerr.UnknownMemberID.Code, rawGroupRequest[*kmsg.HeartbeatResponse](t, cl, hb).ErrorCode)
	hb.MemberID, hb.Generation = leader, gen-1
	require.Equal(t, kerr.IllegalGeneration.Code, rawGroupRequest[*kmsg.HeartbeatResponse](t, cl, hb).ErrorCode)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "raw", leader, gen+1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "no-such-topic"
	ct.Partitions = append(ct.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
	commit.Topics = append(commit.Topics, ct)
	cr := rawGroupRequest[*kmsg.OffsetCommitResponse](t, cl, commit)
	// kmsg negotiates v10, which names topics by ID: a zero ID is unknown.
	require.Equal(t, kerr.UnknownTopicID.Code, cr.Topics[0].Partitions[0].ErrorCode)

	// Static member: a second join with the same instance id fences the first.
	inst := "fixed"
	// The static join starts a rebalance the leader would have to rejoin;
	// the leader leaves instead, which completes it.
	s1 := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { s1 <- join("", &inst) }()
	rebalancing := kmsg.NewPtrDescribeGroupsRequest()
	rebalancing.Groups = []string{"raw"}
	require.Eventually(t, func() bool { // the static join has started the rebalance
		resp, err := rebalancing.RequestWith(context.Background(), cl)
		return err == nil && len(resp.Groups) == 1 && resp.Groups[0].State == "PreparingRebalance"
	}, 20*time.Second, 10*time.Millisecond)
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Group = "raw"
	mi := kmsg.NewLeaveGroupRequestMember()
	mi.MemberID = leader
	lr.Members = append(lr.Members, mi)
	require.Zero(t, rawGroupRequest[*kmsg.LeaveGroupResponse](t, cl, lr).Members[0].ErrorCode)
	require.Zero(t, (<-s1).ErrorCode)

	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Groups = []string{"raw"}
	var staticID string
	require.Eventually(t, func() bool {
		dr := rawGroupRequest[*kmsg.DescribeGroupsResponse](t, cl, d)
		if len(dr.Groups[0].Members) != 1 {
			return false
		}
		staticID = dr.Groups[0].Members[0].MemberID
		return true
	}, 30*time.Second, 50*time.Millisecond)
	s2 := join("", &inst)
	require.Zero(t, s2.ErrorCode)
	require.NotEqual(t, staticID, s2.MemberID)
	hb.MemberID, hb.InstanceID, hb.Generation = staticID, &inst, s2.Generation
	require.Equal(t, kerr.FencedInstanceID.Code, rawGroupRequest[*kmsg.HeartbeatResponse](t, cl, hb).ErrorCode)

	// DeleteGroups on a non-empty group, and on an unknown one.
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"raw", "unknown"}
	dgr := rawGroupRequest[*kmsg.DeleteGroupsResponse](t, cl, dg)
	require.Equal(t, kerr.NonEmptyGroup.Code, dgr.Groups[0].ErrorCode)
	require.Equal(t, kerr.GroupIDNotFound.Code, dgr.Groups[1].ErrorCode)
}
