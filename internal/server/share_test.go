package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/internal/spooltest"
)

// shareEnv: internal topics at one replica, three share-state partitions,
// short share sessions, a delivery limit of 3.
var shareEnv = []string{
	"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
	"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS=3",
	"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=1",
	"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=1",
	"KAFKA_GROUP_SHARE_MIN_HEARTBEAT_INTERVAL_MS=100", // Kafka's bound on the interval below
	"KAFKA_GROUP_SHARE_HEARTBEAT_INTERVAL_MS=200",
	"KAFKA_GROUP_SHARE_DELIVERY_COUNT_LIMIT=3",
	// Kafka bounds the interval above by group.share.min.heartbeat.interval.ms.
	"KAFKA_GROUP_SHARE_MIN_HEARTBEAT_INTERVAL_MS=100",
}

func produceStrings(t *testing.T, cl *kgo.Client, topic string, partition int32, n int, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(prefix + strconv.Itoa(i))})
	}
	require.NoError(t, cl.ProduceSync(ctx, rs...).FirstErr())
}

// alterShareOffsets sets the group's start offset of topic's partitions.
func alterShareOffsets(t *testing.T, cl *kgo.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	req.GroupID = group
	rt := kmsg.NewAlterShareGroupOffsetsRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewAlterShareGroupOffsetsRequestTopicPartition()
		rp.Partition, rp.StartOffset = p, o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The coordinator may still be loading its partition right after the
	// group's first lookup: retry the retriable codes as clients do.
	var resp *kmsg.AlterShareGroupOffsetsResponse
	for {
		var err error
		resp, err = req.RequestWith(ctx, cl)
		require.NoError(t, err)
		if e := kerr.ErrorForCode(resp.ErrorCode); e == nil || !kerr.IsRetriable(e) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("AlterShareGroupOffsets still %v", kerr.ErrorForCode(resp.ErrorCode))
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.Zero(t, resp.ErrorCode)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			require.Zero(t, rp.ErrorCode, "partition %d", rp.Partition)
		}
	}
}

func describeShareOffsets(t *testing.T, cl *kgo.Client, group, topic string) map[int32][2]int64 {
	t.Helper()
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	rg.GroupID = group
	rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
	rt.Topic = topic
	rt.Partitions = []int32{0}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Groups, 1)
	require.Zero(t, resp.Groups[0].ErrorCode)
	out := map[int32][2]int64{}
	for _, rt := range resp.Groups[0].Topics {
		for _, rp := range rt.Partitions {
			require.Zero(t, rp.ErrorCode)
			out[rp.Partition] = [2]int64{rp.StartOffset, rp.Lag}
		}
	}
	return out
}

// TestShareConsumersDisjoint: three franz-go share consumers in one group
// over a two-partition topic get every record exactly once between them.
func TestShareConsumersDisjoint(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	const topic, group, total = "share-disjoint", "sg-disjoint", 300
	groupCreateTopic(t, n.addr, topic, 2)
	admin := groupClient(t, n.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	alterShareOffsets(t, admin, group, topic, map[int32]int64{0: 0, 1: 0})

	var mu sync.Mutex
	seen := map[string]int{}
	byConsumer := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		cl := groupClient(t, n.addr, kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.ShareMaxRecords(20), kgo.FetchMaxWait(200*time.Millisecond))
		wg.Add(1)
		go func(i int, cl *kgo.Client) {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					byConsumer[i]++
					mu.Unlock()
				})
			}
		}(i, cl)
	}
	// Rounds of records until two consumers have had some: a member learns
	// that it shares or lost a partition at its next heartbeat, so the
	// first rounds may all go to the first member.
	require.Eventually(t, func() bool {
		req := kmsg.NewPtrShareGroupDescribeRequest()
		req.GroupIDs = []string{group}
		resp, err := req.RequestWith(context.Background(), admin)
		return err == nil && len(resp.Groups) == 1 && len(resp.Groups[0].Members) == 3
	}, 30*time.Second, 20*time.Millisecond)
	// Rounds of 20 records until two consumers have had some (at least
	// total records in all); each round is consumed before the next.
	produced := 0
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; ; round++ {
		mu.Lock()
		consumers := len(byConsumer)
		mu.Unlock()
		if (consumers >= 2 && produced >= total) || time.Now().After(deadline) {
			break
		}
		produceStrings(t, admin, topic, 0, 10, fmt.Sprintf("a%d-", round))
		produceStrings(t, admin, topic, 1, 10, fmt.Sprintf("b%d-", round))
		produced += 20
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == produced
		}, 30*time.Second, 5*time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for v, c := range seen {
		require.Equal(t, 1, c, "record %s delivered %d times", v, c)
	}
	t.Logf("records per consumer: %v", byConsumer)
	require.GreaterOrEqual(t, len(byConsumer), 2, "the partitions were shared out")

	// The group is a share group for the admin APIs.
	lg := kmsg.NewPtrListGroupsRequest()
	lg.TypesFilter = []string{"share"}
	lr, err := lg.RequestWith(context.Background(), admin)
	require.NoError(t, err)
	require.Len(t, lr.Groups, 1)
	require.Equal(t, group, lr.Groups[0].Group)
	require.Equal(t, "share", lr.Groups[0].GroupType)
}

// rawShare drives ShareFetch/ShareAcknowledge by hand for one member.
type rawShare struct {
	t       *testing.T
	cl      *kgo.Client
	group   string
	member  string
	topicID [16]byte
	epoch   int32
}

func (s *rawShare) fetch(acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
	s.t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.Version = 1
	req.GroupID, req.MemberID = &s.group, &s.member
	req.ShareSessionEpoch = s.epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.MaxRecords, req.BatchSize = 0, 1, 1<<20, 100, 100
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = s.topicID
	rp := kmsg.NewShareFetchRequestTopicPartition()
	rp.Partition = 0
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), s.cl)
	require.NoError(s.t, err)
	if resp.ErrorCode == 0 {
		s.epoch++
	}
	return resp
}

func (s *rawShare) ack(epoch int32, acks ...kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareAcknowledgeResponse {
	s.t.Helper()
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version = 2
	req.GroupID, req.MemberID = &s.group, &s.member
	req.ShareSessionEpoch = epoch
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = s.topicID
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	rp.Partition = 0
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), s.cl)
	require.NoError(s.t, err)
	if resp.ErrorCode == 0 && epoch > 0 {
		s.epoch++
	}
	return resp
}

func shareFetchAck(first, last int64, types ...int8) kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
	b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
	b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = first, last, types
	return b
}

func shareAckBatch(first, last int64, types ...int8) kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch {
	b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
	b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = first, last, types
	return b
}

// acquired returns the single partition's acquired ranges as
// "first-last@count" and its error codes (none when the partition is not
// in the response: a later fetch answers only partitions with news).
func acquired(t *testing.T, resp *kmsg.ShareFetchResponse) ([]string, int16, int16) {
	t.Helper()
	require.Zero(t, resp.ErrorCode, "top-level error %v", kerr.ErrorForCode(resp.ErrorCode))
	if len(resp.Topics) == 0 {
		return nil, 0, 0 // a later fetch without news for the partition
	}
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	p := resp.Topics[0].Partitions[0]
	var out []string
	for _, a := range p.AcquiredRecords {
		out = append(out, fmt.Sprintf("%d-%d@%d", a.FirstOffset, a.LastOffset, a.DeliveryCount))
	}
	return out, p.ErrorCode, p.AcknowledgeErrorCode
}

// TestShareLocksAcksAndRestart: with a fake lock clock, an unacknowledged
// record comes back after the lock duration with its delivery count up; a
// record released at the delivery limit is archived; RELEASE, REJECT,
// ACCEPT and RENEW do what KIP-932 and KIP-1222 say; the share-partition
// state survives a broker restart.
func TestShareLocksAcksAndRestart(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	clk := spooltest.NewClock(time.UnixMilli(1_800_000_000_000))
	n.broker.shareHandlers.setClock(clk.Now)
	const topic, group = "share-raw", "sg-raw"
	groupCreateTopic(t, n.addr, topic, 1)
	cl := groupClient(t, n.addr)
	produceStrings(t, cl, topic, 0, 10, "r")
	alterShareOffsets(t, cl, group, topic, map[int32]int64{0: 0})
	topicID := n.broker.image.Load().Topic(topic).ID
	m := &rawShare{t: t, cl: cl, group: group, member: "m1", topicID: [16]byte(topicID)}

	// A member must be in a share session: no session yet.
	m.epoch = 1
	require.Equal(t, kerr.ShareSessionNotFound.Code, m.fetch().ErrorCode)
	m.epoch = 0
	// Acks on the initial fetch are refused.
	require.Equal(t, kerr.InvalidRequest.Code, m.fetch(shareFetchAck(0, 0, 1)).ErrorCode)

	got, code, _ := acquired(t, m.fetch())
	require.Zero(t, code)
	require.Equal(t, []string{"0-9@1"}, got)
	// Nothing else to acquire while the locks hold.
	got, _, _ = acquired(t, m.fetch())
	require.Empty(t, got)

	// Lock timeout: everything comes back, delivered twice.
	clk.Advance(30 * time.Second)
	got, _, _ = acquired(t, m.fetch())
	require.Equal(t, []string{"0-9@2"}, got)

	// Per-offset acknowledgement piggybacked on the fetch: 0 ACCEPT,
	// 1 RELEASE, 2 REJECT; 3-9 RELEASE. The released records come back at
	// once, delivered a third time.
	got, code, ackCode := acquired(t, m.fetch(shareFetchAck(0, 2, 1, 2, 3), shareFetchAck(3, 9, 2)))
	require.Zero(t, code)
	require.Zero(t, ackCode)
	require.Equal(t, []string{"1-1@3", "3-9@3"}, got)

	// Acknowledging a record not held: INVALID_RECORD_STATE, nothing
	// applied.
	ar := m.ack(m.epoch, shareAckBatch(0, 1, 1))
	require.Zero(t, ar.ErrorCode)
	require.Equal(t, kerr.InvalidRecordState.Code, ar.Topics[0].Partitions[0].ErrorCode)
	// A wrong session epoch.
	ar = m.ack(m.epoch+5, shareAckBatch(1, 1, 1))
	require.Equal(t, kerr.InvalidShareSessionEpoch.Code, ar.ErrorCode)

	// RENEW (v2) keeps record 9's lock across the lock duration.
	clk.Advance(20 * time.Second)
	ar = m.ack(m.epoch, shareAckBatch(9, 9, 4))
	require.Zero(t, ar.Topics[0].Partitions[0].ErrorCode)
	clk.Advance(15 * time.Second) // 35 s after acquisition, 15 s after renewal
	// 1 and 3-8 timed out at their third delivery: archived (limit 3).
	got, _, _ = acquired(t, m.fetch())
	require.Empty(t, got)
	ar = m.ack(m.epoch, shareAckBatch(9, 9, 1))
	require.Zero(t, ar.Topics[0].Partitions[0].ErrorCode)
	off := describeShareOffsets(t, cl, group, topic)
	require.Equal(t, [2]int64{10, 0}, off[0], "start offset past everything; no lag")

	// New records after a restart: state and start offset survive.
	produceStrings(t, cl, topic, 0, 5, "s") // offsets 10-14
	m.epoch = 0
	got, _, _ = acquired(t, m.fetch())
	require.Equal(t, []string{"10-14@1"}, got)
	got, _, ackCode = acquired(t, m.fetch(shareFetchAck(10, 11, 1), shareFetchAck(12, 12, 3)))
	require.Zero(t, ackCode)
	require.Empty(t, got)
	require.Equal(t, [2]int64{13, 2}, describeShareOffsets(t, cl, group, topic)[0])

	// The share coordinator wrote a snapshot and then updates, to a topic
	// that is not compacted (Kafka's configs for __share_group_state).
	img := n.broker.image.Load()
	require.Equal(t, "delete", img.Config(resourceTopic, shareGroupStateTopic)["cleanup.policy"])
	require.Equal(t, "-1", img.Config(resourceTopic, shareGroupStateTopic)["retention.ms"])
	kinds := map[int16]int{}
	sk := share.Key{GroupID: group, TopicID: [16]byte(topicID), Partition: 0}
	require.NoError(t, replayLog(context.Background(), n.broker.partition(shareGroupStateTopic, n.broker.shareHandlers.store.PartitionFor(sk)),
		func(key, value []byte) error {
			kinds[int16(binary.BigEndian.Uint16(key))]++
			return nil
		}))
	require.Equal(t, 1, kinds[0], "one ShareSnapshot: %v", kinds)
	require.Greater(t, kinds[1], 5, "ShareUpdate records after it: %v", kinds)

	n.restart()
	n.broker.shareHandlers.setClock(clk.Now)
	cl2 := groupClient(t, n.addr)
	require.Eventually(t, func() bool {
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = group
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(context.Background(), cl2)
		return err == nil && resp.Groups[0].ErrorCode == 0
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, [2]int64{13, 2}, describeShareOffsets(t, cl2, group, topic)[0])
	m2 := &rawShare{t: t, cl: cl2, group: group, member: "m2", topicID: [16]byte(topicID)}
	var resp *kmsg.ShareFetchResponse
	require.Eventually(t, func() bool {
		m2.epoch = 0
		resp = m2.fetch()
		return resp.ErrorCode == 0 && resp.Topics[0].Partitions[0].ErrorCode == 0
	}, 30*time.Second, 50*time.Millisecond)
	got, _, _ = acquired(t, resp)
	// 13 and 14 were acquired (delivery 1) when the broker stopped: they
	// are available again, with the delivery count last persisted.
	require.Equal(t, []string{"13-14@2"}, got)
}

// alterGroupConfigs sets configs of a GROUP resource with
// IncrementalAlterConfigs and returns the resource's error code and
// message.
func alterGroupConfigs(t *testing.T, cl *kgo.Client, group string, configs map[string]string) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceType(32), group
	for name, value := range configs {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = name, kmsg.StringPtr(value)
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	msg := ""
	if m := resp.Resources[0].ErrorMessage; m != nil {
		msg = *m
	}
	return resp.Resources[0].ErrorCode, msg
}

// TestShareAutoOffsetReset: a share partition without state starts at the
// log end (share.auto.offset.reset latest, the default) or, with the GROUP
// config set to earliest, at the log start; DescribeConfigs shows the
// group config and unknown group configs are refused.
func TestShareAutoOffsetReset(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	const topic = "share-reset"
	groupCreateTopic(t, n.addr, topic, 1)
	cl := groupClient(t, n.addr)
	produceStrings(t, cl, topic, 0, 4, "old")
	topicID := [16]byte(n.broker.image.Load().Topic(topic).ID)

	alter := func(group, name, value string) int16 {
		code, _ := alterGroupConfigs(t, cl, group, map[string]string{name: value})
		return code
	}
	require.Equal(t, kerr.InvalidConfig.Code, alter("sg-early", "share.no.such.config", "1"))
	require.Equal(t, kerr.InvalidConfig.Code, alter("sg-early", "share.auto.offset.reset", "sometimes"))
	require.Zero(t, alter("sg-early", "share.auto.offset.reset", "earliest"))

	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceType(32), "sg-early"
	dreq.Resources = append(dreq.Resources, dr)
	dresp, err := dreq.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.Zero(t, dresp.Resources[0].ErrorCode)
	found := false
	for _, c := range dresp.Resources[0].Configs {
		if c.Name == "share.auto.offset.reset" {
			found = true
			require.Equal(t, "earliest", *c.Value)
			require.EqualValues(t, 8, c.Source) // GROUP_CONFIG
		}
	}
	require.True(t, found)

	latest := &rawShare{t: t, cl: cl, group: "sg-late", member: "m", topicID: topicID}
	got, _, _ := acquired(t, latest.fetch())
	require.Empty(t, got, "latest: the records already there are not delivered")
	produceStrings(t, cl, topic, 0, 2, "new") // offsets 4-5
	got, _, _ = acquired(t, latest.fetch())
	require.Equal(t, []string{"4-5@1"}, got)

	require.Eventually(t, func() bool {
		return n.broker.image.Load().Config(resourceGroup, "sg-early")["share.auto.offset.reset"] == "earliest"
	}, 10*time.Second, 10*time.Millisecond)
	early := &rawShare{t: t, cl: cl, group: "sg-early", member: "m", topicID: topicID}
	got, _, _ = acquired(t, early.fetch())
	require.Equal(t, []string{"0-5@1"}, got)
}

func TestParseISODuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1H", time.Hour, true},
		{"P1DT30M", 24*time.Hour + 30*time.Minute, true},
		{"PT0.5S", 500 * time.Millisecond, true},
		{"pt10m", 10 * time.Minute, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"1H", 0, false},
	} {
		d, ok := parseISODuration(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, d, tc.in)
	}
}

// TestShareReadCommitted: with share.isolation.level=read_committed a share
// group never gets the records of an aborted transaction; with the default
// read_uncommitted it does.
func TestShareReadCommitted(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	const topic = "share-txn"
	groupCreateTopic(t, n.addr, topic, 1)
	cl := groupClient(t, n.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txp := groupClient(t, n.addr, kgo.TransactionalID("share-txn-p"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, commit := range []bool{false, true} {
		require.NoError(t, txp.BeginTransaction())
		for i := 0; i < 3; i++ {
			require.NoError(t, txp.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr())
		}
		require.NoError(t, txp.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
	}
	// Offsets: 0-2 aborted, 3 ABORT, 4-6 committed, 7 COMMIT.
	topicID := [16]byte(n.broker.image.Load().Topic(topic).ID)
	for _, tc := range []struct {
		group, isolation string
		want             []string
	}{
		{"sg-rc", "read_committed", []string{"4-6@1"}},
		{"sg-ru", "read_uncommitted", []string{"0-2@1", "4-6@1"}},
	} {
		code, msg := alterGroupConfigs(t, cl, tc.group, map[string]string{"share.isolation.level": tc.isolation, "share.auto.offset.reset": "earliest"})
		require.Zero(t, code, msg)
		require.Eventually(t, func() bool {
			return n.broker.image.Load().Config(resourceGroup, tc.group)["share.isolation.level"] == tc.isolation
		}, 10*time.Second, 10*time.Millisecond)
		m := &rawShare{t: t, cl: cl, group: tc.group, member: "m", topicID: topicID}
		got, _, _ := acquired(t, m.fetch())
		require.Equal(t, tc.want, got, tc.isolation)
	}
}

// TestShareStateRPCs: the share coordinator's inter-broker keys 83-87
// against a single node, which coordinates every key.
func TestShareStateRPCs(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	cl := groupClient(t, n.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The state topic is created on first use (FindCoordinator SHARE).
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType = 2
	fc.CoordinatorKeys = []string{"g:AAAAAAAAAAAAAAAAAAAAAQ:0"}
	require.Eventually(t, func() bool {
		r, err := fc.RequestWith(ctx, cl)
		return err == nil && len(r.Coordinators) == 1 && r.Coordinators[0].ErrorCode == 0 && r.Coordinators[0].NodeID == 1
	}, 20*time.Second, 50*time.Millisecond)
	bad := kmsg.NewPtrFindCoordinatorRequest()
	bad.CoordinatorType = 2
	bad.CoordinatorKeys = []string{"no-partition"}
	br, err := bad.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.InvalidRequest.Code, br.Coordinators[0].ErrorCode)

	tid := [16]byte{1}
	init := kmsg.NewPtrInitializeShareGroupStateRequest()
	init.GroupID = "g"
	init.Topics = []kmsg.InitializeShareGroupStateRequestTopic{{TopicID: tid, Partitions: []kmsg.InitializeShareGroupStateRequestTopicPartition{{Partition: 0, StateEpoch: 1, StartOffset: 5}}}}
	require.Eventually(t, func() bool {
		r, err := init.RequestWith(ctx, cl)
		return err == nil && r.Topics[0].Partitions[0].ErrorCode == 0
	}, 20*time.Second, 50*time.Millisecond)

	w := kmsg.NewPtrWriteShareGroupStateRequest()
	w.GroupID = "g"
	w.Topics = []kmsg.WriteShareGroupStateRequestTopic{{TopicID: tid, Partitions: []kmsg.WriteShareGroupStateRequestTopicPartition{{
		Partition: 0, StateEpoch: 1, LeaderEpoch: 0, StartOffset: 6,
		StateBatches: []kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{{FirstOffset: 7, LastOffset: 8, DeliveryState: 2, DeliveryCount: 1}, {FirstOffset: 9, LastOffset: 9, DeliveryState: 0, DeliveryCount: 3}},
	}}}}
	wr, err := w.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, wr.Topics[0].Partitions[0].ErrorCode)
	w.Topics[0].Partitions[0].StateEpoch = 0
	wr, err = w.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.FencedStateEpoch.Code, wr.Topics[0].Partitions[0].ErrorCode)

	rd := kmsg.NewPtrReadShareGroupStateRequest()
	rd.GroupID = "g"
	rd.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: tid, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 0, LeaderEpoch: -1}, {Partition: 1, LeaderEpoch: -1}}}}
	rr, err := rd.RequestWith(ctx, cl)
	require.NoError(t, err)
	p0, p1 := rr.Topics[0].Partitions[0], rr.Topics[0].Partitions[1]
	require.Zero(t, p0.ErrorCode)
	require.EqualValues(t, 6, p0.StartOffset)
	require.EqualValues(t, 1, p0.StateEpoch)
	require.Len(t, p0.StateBatches, 2)
	require.EqualValues(t, -1, p1.StartOffset, "never written")

	sm := kmsg.NewPtrReadShareGroupStateSummaryRequest()
	sm.GroupID = "g"
	sm.Topics = []kmsg.ReadShareGroupStateSummaryRequestTopic{{TopicID: tid, Partitions: []kmsg.ReadShareGroupStateSummaryRequestTopicPartition{{Partition: 0, LeaderEpoch: -1}}}}
	sr, err := sm.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.EqualValues(t, 6, sr.Topics[0].Partitions[0].StartOffset)
	require.EqualValues(t, 2, sr.Topics[0].Partitions[0].DeliveryCompleteCount)

	del := kmsg.NewPtrDeleteShareGroupStateRequest()
	del.GroupID = "g"
	del.Topics = []kmsg.DeleteShareGroupStateRequestTopic{{TopicID: tid, Partitions: []kmsg.DeleteShareGroupStateRequestTopicPartition{{Partition: 0}}}}
	dr, err := del.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, dr.Topics[0].Partitions[0].ErrorCode)
	rr, err = rd.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.EqualValues(t, -1, rr.Topics[0].Partitions[0].StartOffset)
}

// TestShareConnectionCloseReleases: records acquired over a connection that
// closes are released at once (not after the lock duration), with their
// delivery counted.
func TestShareConnectionCloseReleases(t *testing.T) {
	n := startTestNode(t, shareEnv...)
	const topic, group = "share-close", "sg-close"
	groupCreateTopic(t, n.addr, topic, 1)
	cl := groupClient(t, n.addr)
	produceStrings(t, cl, topic, 0, 3, "c")
	alterShareOffsets(t, cl, group, topic, map[int32]int64{0: 0})
	topicID := [16]byte(n.broker.image.Load().Topic(topic).ID)

	cl1, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	require.NoError(t, err)
	m1 := &rawShare{t: t, cl: cl1, group: group, member: "m1", topicID: topicID}
	got, _, _ := acquired(t, m1.fetch())
	require.Equal(t, []string{"0-2@1"}, got)
	m2 := &rawShare{t: t, cl: cl, group: group, member: "m2", topicID: topicID}
	got, _, _ = acquired(t, m2.fetch())
	require.Empty(t, got, "held by m1")
	cl1.Close()
	require.Eventually(t, func() bool {
		got, _, _ = acquired(t, m2.fetch())
		return len(got) > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{"0-2@2"}, got)
}
