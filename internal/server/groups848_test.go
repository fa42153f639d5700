package server

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// group848Env makes KIP-848 sessions short (3s) and caps groups at three
// members.
var group848Env = append(group848BaseEnv, "KAFKA_GROUP_CONSUMER_SESSION_TIMEOUT_MS=3000")

var group848BaseEnv = []string{
	"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
	"KAFKA_GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS=1000",
	"KAFKA_GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS=100",
	"KAFKA_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS=200",
	"KAFKA_GROUP_CONSUMER_MAX_SIZE=3",
}

// rawMember drives ConsumerGroupHeartbeat by hand: it owns at once what it
// is assigned and gives up revoked partitions at once.
type rawMember struct {
	id, instance string
	epoch        int32
	owned        map[[16]byte][]int32
}

func (m *rawMember) request(group string, topics ...string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group = group
	req.MemberID = m.id
	req.MemberEpoch = m.epoch
	req.RebalanceTimeoutMillis = -1
	if m.instance != "" {
		req.InstanceID = kmsg.StringPtr(m.instance)
	}
	if m.epoch == 0 {
		req.RebalanceTimeoutMillis = 10000
		req.SubscribedTopicNames = topics
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	} else {
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for id, ps := range m.owned {
			req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: ps})
		}
	}
	return req
}

func (m *rawMember) heartbeat(t *testing.T, cl *kgo.Client, group string, topics ...string) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := m.request(group, topics...).RequestWith(ctx, cl)
	require.NoError(t, err)
	if resp.ErrorCode == 0 {
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = map[[16]byte][]int32{}
			for _, tp := range resp.Assignment.Topics {
				m.owned[tp.TopicID] = append([]int32(nil), tp.Partitions...)
			}
		}
	}
	return resp
}

func (m *rawMember) partitions() []int32 {
	var out []int32
	for _, ps := range m.owned {
		out = append(out, ps...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// settle heartbeats members until they own disjoint sets covering
// 0..n-1, each of size want (or want+1), at the same epoch.
func settle(t *testing.T, cl *kgo.Client, group, topic string, n int, members ...*rawMember) {
	t.Helper()
	settled := pollUntil(10*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range members {
			r := m.heartbeat(t, cl, group, topic)
			require.Zero(t, r.ErrorCode, "member %s: %v", m.id, kerr.ErrorForCode(r.ErrorCode))
		}
		seen := map[int32]bool{}
		ok := true
		for _, m := range members {
			ps := m.partitions()
			if len(ps) < n/len(members) || len(ps) > (n+len(members)-1)/len(members) || m.epoch != members[0].epoch {
				ok = false
			}
			for _, p := range ps {
				if seen[p] {
					ok = false
				}
				seen[p] = true
			}
		}
		return ok && len(seen) == n
	})
	if settled {
		return
	}
	for _, m := range members {
		t.Logf("member %s epoch %d owns %v", m.id, m.epoch, m.partitions())
	}
	t.Fatal("members did not settle on a balanced assignment")
}

func TestGroup848RawHeartbeats(t *testing.T) {
	n := startTestNode(t, group848Env...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "t848", 6)
	const g = "g848"

	a, b, c := &rawMember{id: "member-a"}, &rawMember{id: "member-b"}, &rawMember{id: "member-c"}
	r := a.heartbeat(t, cl, g, "t848")
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(1), r.MemberEpoch)
	require.Equal(t, int32(200), r.HeartbeatIntervalMillis)
	require.Equal(t, []int32{0, 1, 2, 3, 4, 5}, a.partitions())

	settle(t, cl, g, "t848", 6, a, b, c)
	for _, m := range []*rawMember{a, b, c} {
		require.Len(t, m.partitions(), 2, "each member gets a third")
	}

	// Describe: Stable, three members, epochs agree.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dreq := kmsg.NewPtrConsumerGroupDescribeRequest()
	dreq.Groups = []string{g, "missing"}
	dresp, err := dreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, dresp.Groups, 2)
	d := dresp.Groups[0]
	require.Zero(t, d.ErrorCode)
	require.Equal(t, "Stable", d.State)
	require.Equal(t, "uniform", d.AssignorName)
	require.Len(t, d.Members, 3)
	require.Equal(t, d.Epoch, d.AssignmentEpoch)
	for _, m := range d.Members {
		require.Equal(t, []string{"t848"}, m.SubscribedTopics)
		require.Len(t, m.Assignment.TopicPartitions, 1)
		require.Equal(t, "t848", m.Assignment.TopicPartitions[0].Topic)
	}
	require.Equal(t, kerr.GroupIDNotFound.Code, dresp.Groups[1].ErrorCode)

	// A fourth member is over group.consumer.max.size.
	extra := &rawMember{id: "member-d"}
	require.Equal(t, kerr.GroupMaxSizeReached.Code, extra.heartbeat(t, cl, g, "t848").ErrorCode)

	// Fencing: an epoch from the future, an unknown member.
	bad := &rawMember{id: a.id, epoch: a.epoch + 5, owned: a.owned}
	require.Equal(t, kerr.FencedMemberEpoch.Code, bad.heartbeat(t, cl, g).ErrorCode)
	// As in Kafka, a full group answers GROUP_MAX_SIZE_REACHED before
	// looking at who is asking.
	ghost := &rawMember{id: "ghost", epoch: 3}
	require.Equal(t, kerr.GroupMaxSizeReached.Code, ghost.heartbeat(t, cl, g).ErrorCode)

	// Committing needs a member epoch at which the member held the partition.
	commit := func(member string, epoch int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 9
		req.Group, req.MemberID, req.Generation = g, member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t848"
		for id := range a.owned {
			rt.TopicID = id // v10 names topics by ID
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = a.partitions()[0], 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	require.Zero(t, commit(a.id, a.epoch))
	// KIP-1251: an older epoch is fine for a partition the member has held
	// since then (a has had it since it joined at epoch 1), not for one
	// from before it got it, nor from the future.
	require.Zero(t, commit(a.id, a.epoch-1))
	require.Equal(t, kerr.StaleMemberEpoch.Code, commit(a.id, 0))
	require.Equal(t, kerr.StaleMemberEpoch.Code, commit(a.id, a.epoch+1))
	require.Equal(t, kerr.UnknownMemberID.Code, commit("ghost", 1))

	// OffsetFetch v9 as a member checks the epoch too.
	fetch := func(epoch int32) int16 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 9
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.MemberID, rg.MemberEpoch = g, kmsg.StringPtr(a.id), epoch
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp.Groups[0].ErrorCode
	}
	require.Zero(t, fetch(a.epoch))
	require.Equal(t, kerr.StaleMemberEpoch.Code, fetch(a.epoch+1))

	// c leaves: a and b take its partitions.
	leave := &rawMember{id: c.id, epoch: -1}
	r = leave.heartbeat(t, cl, g)
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(-1), r.MemberEpoch)
	settle(t, cl, g, "t848", 6, a, b)
	require.Equal(t, kerr.UnknownMemberID.Code, ghost.heartbeat(t, cl, g).ErrorCode)
	require.Len(t, a.partitions(), 3)
	require.Len(t, b.partitions(), 3)

	// Classic clients can't join a non-empty consumer group.
	jreq := kmsg.NewPtrJoinGroupRequest()
	jreq.Version = 5
	jreq.Group, jreq.SessionTimeoutMillis, jreq.RebalanceTimeoutMillis, jreq.ProtocolType = g, 10000, 10000, "consumer"
	jreq.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0}}}
	jresp, err := jreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.InconsistentGroupProtocol.Code, jresp.ErrorCode)

	// ListGroups shows the type; DescribeGroups v6 says it isn't classic.
	lg, err := kadm.NewClient(cl).ListGroupsByType(ctx, []string{"consumer"})
	require.NoError(t, err)
	require.Contains(t, lg, g)
	require.Equal(t, "consumer", lg[g].ProtocolType)
	lg, err = kadm.NewClient(cl).ListGroupsByType(ctx, []string{"classic"})
	require.NoError(t, err)
	require.NotContains(t, lg, g)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 6
	dg.Groups = []string{g}
	dgr, err := dg.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.GroupIDNotFound.Code, dgr.Groups[0].ErrorCode)

	// Session expiry: b stops heartbeating while a goes on, until the
	// coordinator has removed b (3s session); a then ends with everything.
	describe := kmsg.NewPtrConsumerGroupDescribeRequest()
	describe.Groups = []string{g}
	require.True(t, pollUntil(20*time.Second, 200*time.Millisecond, func() bool {
		require.Zero(t, a.heartbeat(t, cl, g).ErrorCode)
		d := rawGroupRequest[*kmsg.ConsumerGroupDescribeResponse](t, cl, describe)
		require.Len(t, d.Groups, 1)
		return len(d.Groups[0].Members) == 1 && d.Groups[0].Members[0].MemberID == a.id
	}), "b's session did not expire")
	settle(t, cl, g, "t848", 6, a)
	require.Equal(t, kerr.UnknownMemberID.Code, b.heartbeat(t, cl, g).ErrorCode)
}

func TestGroup848ValidationAndStatic(t *testing.T) {
	n := startTestNode(t, group848Env...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "ts", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Validation errors.
	m := &rawMember{id: "v1"}
	req := m.request("gv", "ts")
	req.ServerAssignor = kmsg.StringPtr("sticky")
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.UnsupportedAssignor.Code, resp.ErrorCode)
	req = m.request("gv")
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = kmsg.StringPtr("(unclosed")
	resp, err = req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.InvalidRegularExpression.Code, resp.ErrorCode)
	req = m.request("gv", "ts")
	req.MemberID = ""
	resp, err = req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.InvalidRequest.Code, resp.ErrorCode)
	m.epoch = 4
	require.Equal(t, kerr.GroupIDNotFound.Code, m.heartbeat(t, cl, "gv").ErrorCode)

	// Regex subscription and the range assignor.
	rx := &rawMember{id: "rx"}
	req = rx.request("grx")
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = kmsg.StringPtr("t.")
	req.ServerAssignor = kmsg.StringPtr("range")
	resp, err = req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.ErrorCode)
	require.NotNil(t, resp.Assignment)
	require.Len(t, resp.Assignment.Topics, 1)
	require.Equal(t, []int32{0, 1, 2, 3}, resp.Assignment.Topics[0].Partitions)

	// Static members: a second member can't take a used instance id;
	// after a temporary leave (-2) the instance comes back with its
	// partitions under a new member id.
	s1 := &rawMember{id: "s1", instance: "inst"}
	require.Zero(t, s1.heartbeat(t, cl, "gs", "ts").ErrorCode)
	require.Len(t, s1.partitions(), 4)
	s2 := &rawMember{id: "s2", instance: "inst"}
	require.Equal(t, kerr.UnreleasedInstanceID.Code, s2.heartbeat(t, cl, "gs", "ts").ErrorCode)
	fenced := &rawMember{id: "other", instance: "inst", epoch: s1.epoch, owned: s1.owned}
	require.Equal(t, kerr.FencedInstanceID.Code, fenced.heartbeat(t, cl, "gs").ErrorCode)
	tmp := &rawMember{id: "s1", instance: "inst", epoch: -2}
	r := tmp.heartbeat(t, cl, "gs")
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(-2), r.MemberEpoch)
	r = s2.heartbeat(t, cl, "gs", "ts")
	require.Zero(t, r.ErrorCode, "%v", kerr.ErrorForCode(r.ErrorCode))
	require.Len(t, s2.partitions(), 4)
}

// TestGroup848Migration: an empty classic group (offsets only) becomes a
// consumer group and keeps its offsets; a non-empty classic group can't.
func TestGroup848Migration(t *testing.T) {
	n := startTestNode(t, group848Env...)
	cl := groupClient(t, n.addr)
	adm := kadm.NewClient(cl)
	groupCreateTopic(t, n.addr, "tm", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	offs := kadm.Offsets{}
	offs.AddOffset("tm", 0, 7, -1)
	_, err := adm.CommitOffsets(ctx, "gm", offs)
	require.NoError(t, err)
	m := &rawMember{id: "m1"}
	r := m.heartbeat(t, cl, "gm", "tm")
	require.Zero(t, r.ErrorCode, "%v", kerr.ErrorForCode(r.ErrorCode))
	fetched, err := adm.FetchOffsets(ctx, "gm")
	require.NoError(t, err)
	o, ok := fetched.Lookup("tm", 0)
	require.True(t, ok)
	require.Equal(t, int64(7), o.At)

	// A non-empty classic group: a kgo classic consumer holds it.
	classic := groupClient(t, n.addr, kgo.ConsumerGroup("gc"), kgo.ConsumeTopics("tm"), kgo.SessionTimeout(6*time.Second))
	require.Eventually(t, func() bool {
		fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer fcancel()
		classic.PollFetches(fctx)
		dg, err := adm.DescribeGroups(ctx, "gc")
		return err == nil && dg["gc"].State == "Stable"
	}, 10*time.Second, 50*time.Millisecond)
	c := &rawMember{id: "c1"}
	r = c.heartbeat(t, cl, "gc", "tm")
	require.Equal(t, kerr.GroupIDNotFound.Code, r.ErrorCode)
	require.Contains(t, *r.ErrorMessage, "not a consumer group")

	// A consumer group left empty converts back to classic on JoinGroup.
	require.Zero(t, (&rawMember{id: "m1", epoch: -1}).heartbeat(t, cl, "gm").ErrorCode)
	back := groupClient(t, n.addr, kgo.ConsumerGroup("gm"), kgo.ConsumeTopics("tm"))
	require.Eventually(t, func() bool {
		fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer fcancel()
		back.PollFetches(fctx)
		lg, err := adm.ListGroupsByType(ctx, []string{"classic"})
		return err == nil && lg["gm"].State == "Stable"
	}, 10*time.Second, 50*time.Millisecond)
	fetched, err = adm.FetchOffsets(ctx, "gm")
	require.NoError(t, err)
	o, _ = fetched.Lookup("tm", 0)
	require.Equal(t, int64(7), o.At, "offsets survive both conversions")
}

// TestGroup848KgoConsumersAndRestart: franz-go's KIP-848 consumers share
// a topic, commit, and the group (members, assignments) survives a
// restart.
func TestGroup848KgoConsumersAndRestart(t *testing.T) {
	// kgo heartbeats every 3s whatever the broker says: a longer session.
	n := startTestNode(t, append(slices.Clone(group848BaseEnv), "KAFKA_GROUP_CONSUMER_SESSION_TIMEOUT_MS=20000")...)
	cl := groupClient(t, n.addr, kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	groupCreateTopic(t, n.addr, "tk", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const total = 200
	for i := 0; i < total; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "tk", Partition: int32(i % 4), Value: []byte(fmt.Sprint(i))}, nil)
	}
	require.NoError(t, cl.Flush(ctx))

	consumers := make([]*kgo.Client, 2)
	for i := range consumers {
		consumers[i] = groupClient(t, n.addr, kgo.ConsumerGroup("gk"), kgo.ConsumeTopics("tk"), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(200*time.Millisecond))
	}
	seen := map[string]bool{}
	require.Eventually(t, func() bool {
		for _, c := range consumers {
			fctx, fcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			c.PollFetches(fctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			fcancel()
		}
		return len(seen) == total
	}, 20*time.Second, 10*time.Millisecond)

	adm := kadm.NewClient(cl)
	var described kmsg.ConsumerGroupDescribeResponseGroup
	require.Eventually(t, func() bool {
		for _, c := range consumers {
			fctx, fcancel := context.WithTimeout(ctx, 50*time.Millisecond)
			c.PollFetches(fctx)
			fcancel()
		}
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"gk"}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Groups) != 1 {
			return false
		}
		described = resp.Groups[0]
		if described.State != "Stable" || len(described.Members) != 2 {
			return false
		}
		for _, m := range described.Members {
			if len(m.Assignment.TopicPartitions) != 1 || len(m.Assignment.TopicPartitions[0].Partitions) != 2 {
				return false
			}
		}
		return true
	}, 15*time.Second, 50*time.Millisecond, "two members with two partitions each")

	for _, c := range consumers {
		require.NoError(t, c.CommitUncommittedOffsets(ctx))
	}
	lag, err := adm.Lag(ctx, "gk")
	require.NoError(t, err)
	require.Zero(t, lag["gk"].Lag.Total(), "everything consumed and committed")

	// Restart: the group is kept.
	members := map[string][]int32{}
	for _, m := range described.Members {
		members[m.MemberID] = m.Assignment.TopicPartitions[0].Partitions
	}
	// The consumers keep running and keep their membership over the
	// restart.
	n.restart()
	cl2 := groupClient(t, n.addr)
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{"gk"}
	var after kmsg.ConsumerGroupDescribeResponseGroup
	require.Eventually(t, func() bool {
		resp, err := req.RequestWith(ctx, cl2)
		if err != nil || resp.Groups[0].ErrorCode != 0 {
			return false
		}
		after = resp.Groups[0]
		return true
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, described.Epoch, after.Epoch)
	require.Equal(t, described.AssignmentEpoch, after.AssignmentEpoch)
	require.Len(t, after.Members, len(members))
	for _, m := range after.Members {
		require.Equal(t, members[m.MemberID], m.Assignment.TopicPartitions[0].Partitions, "member %s", m.MemberID)
	}
}

// TestGroup848RegexInternalTopics: as Kafka 4.3's coordinator does, a
// SubscribedTopicRegex is resolved against every topic, internal ones
// included, so a member whose regex matches __consumer_offsets (written
// plainly, quoted, or as a wider pattern) is assigned its partitions; so is
// a member naming it. A member may join with an empty subscription (a Java
// consumer whose Pattern matches nothing yet), but not with none.
func TestGroup848RegexInternalTopics(t *testing.T) {
	n := startTestNode(t, group848Env...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "rxt", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	// A group commit makes __consumer_offsets exist.
	_, err := adm.CommitOffsets(ctx, "rx-seed", kadm.Offsets{"rxt": {0: kadm.Offset{Topic: "rxt", Partition: 0, At: 0}}})
	require.NoError(t, err)
	topics, err := adm.ListTopicsWithInternal(ctx)
	require.NoError(t, err)
	ids := map[[16]byte]string{}
	for name, d := range topics {
		ids[d.ID] = name
	}
	offsets := topics["__consumer_offsets"]
	require.Len(t, offsets.Partitions, 3)

	join := func(group string, names []string, regex *string) (*kmsg.ConsumerGroupHeartbeatResponse, map[string][]int32) {
		t.Helper()
		req := (&rawMember{id: group + "-m"}).request(group)
		req.SubscribedTopicNames, req.SubscribedTopicRegex = names, regex
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		got := map[string][]int32{}
		if resp.Assignment != nil {
			for _, tp := range resp.Assignment.Topics {
				ps := slices.Clone(tp.Partitions)
				slices.Sort(ps)
				got[ids[tp.TopicID]] = ps
			}
		}
		return resp, got
	}
	all := []int32{0, 1, 2}
	for _, tc := range []struct {
		regex string
		want  map[string][]int32
	}{
		{"__consumer_offsets", map[string][]int32{"__consumer_offsets": all}},
		{`\Q__consumer_offsets\E`, map[string][]int32{"__consumer_offsets": all}},
		{"__consumer.*", map[string][]int32{"__consumer_offsets": all}},
		{"rxt|__consumer_offsets", map[string][]int32{"__consumer_offsets": all, "rxt": {0, 1}}},
		{"rx.*", map[string][]int32{"rxt": {0, 1}}},
	} {
		resp, got := join("rx-"+tc.regex, nil, kmsg.StringPtr(tc.regex))
		require.Zero(t, resp.ErrorCode, "regex %q: %v", tc.regex, kerr.ErrorForCode(resp.ErrorCode))
		require.Equal(t, tc.want, got, "regex %q", tc.regex)
	}
	// .* gets every topic there is, internal ones too.
	resp, got := join("rx-all", nil, kmsg.StringPtr(".*"))
	require.Zero(t, resp.ErrorCode)
	require.Equal(t, all, got["__consumer_offsets"])
	require.Len(t, got, len(topics))

	resp, got = join("rx-name", []string{"__consumer_offsets"}, nil)
	require.Zero(t, resp.ErrorCode)
	require.Equal(t, map[string][]int32{"__consumer_offsets": all}, got)

	resp, got = join("rx-empty", []string{}, nil)
	require.Zero(t, resp.ErrorCode, "%v", kerr.ErrorForCode(resp.ErrorCode))
	require.Empty(t, got)
	resp, _ = join("rx-none", nil, nil)
	require.Equal(t, kerr.InvalidRequest.Code, resp.ErrorCode)
	require.Equal(t, "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.", *resp.ErrorMessage)
}
