package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// adminEnv is a running node with a raw client and an admin client.
type adminEnv struct {
	t   *testing.T
	ctx context.Context
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdminEnv(t *testing.T, extra ...string) *adminEnv {
	t.Helper()
	n := startTestNode(t, extra...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.DefaultProduceTopic("unused"))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &adminEnv{t: t, ctx: ctx, cl: cl, adm: kadm.NewClient(cl)}
}

func (e *adminEnv) createTopics(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) []kmsg.CreateTopicsResponseTopic {
	e.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics, req.ValidateOnly, req.TimeoutMillis = topics, validateOnly, 5000
	resp, err := req.RequestWith(e.ctx, e.cl)
	require.NoError(e.t, err)
	return resp.Topics
}

func newTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
		t.Configs = append(t.Configs, c)
	}
	return t
}

func (e *adminEnv) mustCreate(name string, partitions int32, configs ...string) {
	e.t.Helper()
	res := e.createTopics(false, newTopic(name, partitions, 1, configs...))
	require.Len(e.t, res, 1)
	require.Zero(e.t, res[0].ErrorCode, "create %s: %v", name, res[0].ErrorMessage)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestAdminCreateTopics(t *testing.T) {
	e := newAdminEnv(t)
	withAssignment := newTopic("assigned", -1, -1)
	for p := int32(0); p < 2; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1}
		withAssignment.ReplicaAssignment = append(withAssignment.ReplicaAssignment, a)
	}
	res := e.createTopics(false,
		newTopic("a", 3, 1, "retention.ms", "1000"),
		newTopic("defaults", -1, -1),
		withAssignment,
		newTopic("dup", 1, 1), newTopic("dup", 1, 1),
		newTopic("bad name!", 1, 1),
		newTopic("unknown-config", 1, 1, "no.such.config", "1"),
		newTopic("bad-value", 1, 1, "retention.ms", "soon"),
		newTopic("zero", 0, 1),
		newTopic("rf3", 1, 3),
		newTopic("__cluster_metadata", 1, 1),
	)
	byName := map[string]kmsg.CreateTopicsResponseTopic{}
	for _, r := range res {
		byName[r.Topic] = r
	}
	require.Len(t, byName, 10, "one result per distinct name")

	a := byName["a"]
	require.Zero(t, a.ErrorCode)
	require.NotEqual(t, [16]byte{}, a.TopicID)
	require.Equal(t, int32(3), a.NumPartitions)
	require.Equal(t, int16(1), a.ReplicationFactor)
	found := false
	for _, c := range a.Configs {
		if c.Name == "retention.ms" {
			found = true
			require.Equal(t, "1000", deref(c.Value))
			require.Equal(t, int8(kmsg.ConfigSourceDynamicTopicConfig), c.Source)
		}
	}
	require.True(t, found, "response lists the created topic's configs")
	require.Equal(t, int32(1), byName["defaults"].NumPartitions, "num.partitions default")
	require.Equal(t, int32(2), byName["assigned"].NumPartitions)

	for _, tc := range []struct {
		name string
		code int16
		msg  string
	}{
		{"dup", kerr.InvalidRequest.Code, "Duplicate topic name."},
		{"bad name!", kerr.InvalidTopicException.Code, "illegal"},
		{"unknown-config", kerr.InvalidConfig.Code, "Unknown topic config name: no.such.config"},
		{"bad-value", kerr.InvalidConfig.Code, "retention.ms"},
		{"zero", kerr.InvalidPartitions.Code, "Number of partitions was set to an invalid non-positive value."},
		{"rf3", kerr.InvalidReplicationFactor.Code, "Unable to replicate the partition 3 time(s)"},
		{"__cluster_metadata", kerr.InvalidRequest.Code, "prohibited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := byName[tc.name]
			require.Equal(t, tc.code, r.ErrorCode, deref(r.ErrorMessage))
			require.Contains(t, deref(r.ErrorMessage), tc.msg)
			require.Equal(t, int32(-1), r.NumPartitions)
		})
	}

	// Existing topic; validateOnly creates nothing.
	res = e.createTopics(false, newTopic("a", 1, 1))
	require.Equal(t, kerr.TopicAlreadyExists.Code, res[0].ErrorCode)
	require.Equal(t, "Topic 'a' already exists.", deref(res[0].ErrorMessage))
	res = e.createTopics(true, newTopic("dry", 4, 1))
	require.Zero(t, res[0].ErrorCode)
	require.Equal(t, int32(4), res[0].NumPartitions)
	require.Equal(t, [16]byte{}, res[0].TopicID)
	md, err := e.adm.ListTopics(e.ctx)
	require.NoError(t, err)
	require.False(t, md.Has("dry"))
	require.True(t, md.Has("a"))
	require.Len(t, md["a"].Partitions, 3)
}

func TestAdminCreatePartitions(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("p", 2)
	resp, err := e.adm.ValidateUpdatePartitions(e.ctx, 6, "p")
	require.NoError(t, err)
	require.NoError(t, resp["p"].Err)
	resp, err = e.adm.UpdatePartitions(e.ctx, 4, "p")
	require.NoError(t, err)
	require.NoError(t, resp["p"].Err)
	md, err := e.adm.ListTopics(e.ctx, "p")
	require.NoError(t, err)
	require.Len(t, md["p"].Partitions, 4)

	for _, tc := range []struct {
		topic string
		count int32
		code  int16
		msg   string
	}{
		{"p", 4, kerr.InvalidPartitions.Code, "Topic already has 4 partition(s)."},
		{"p", 3, kerr.InvalidPartitions.Code, "The topic p currently has 4 partition(s); 3 would not be an increase."},
		{"nope", 5, kerr.UnknownTopicOrPartition.Code, ""},
	} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = tc.topic, tc.count
		req.Topics = append(req.Topics, rt)
		r, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		require.Equal(t, tc.code, r.Topics[0].ErrorCode, deref(r.Topics[0].ErrorMessage))
		if tc.msg != "" {
			require.Equal(t, tc.msg, deref(r.Topics[0].ErrorMessage))
		}
	}
	// Assignments: one per new partition, on registered brokers.
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "p", 6
	rt.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}
	req.Topics = append(req.Topics, rt)
	r, err := req.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Equal(t, kerr.InvalidReplicaAssignment.Code, r.Topics[0].ErrorCode)
	rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: []int32{1}})
	req.Topics[0] = rt
	r, err = req.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Zero(t, r.Topics[0].ErrorCode, deref(r.Topics[0].ErrorMessage))
}

func TestAdminDeleteTopics(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("d1", 1)
	e.mustCreate("d2", 1)
	resp, err := e.adm.DeleteTopics(e.ctx, "d1")
	require.NoError(t, err)
	require.NoError(t, resp["d1"].Err)
	require.NotEqual(t, kadm.TopicID{}, resp["d1"].ID)

	md, err := e.adm.ListTopics(e.ctx, "d2")
	require.NoError(t, err)
	id := md["d2"].ID

	del := func(v int16, topics ...kmsg.DeleteTopicsRequestTopic) []kmsg.DeleteTopicsResponseTopic {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version = v
		req.Topics = topics
		for _, tp := range topics {
			if tp.Topic != nil {
				req.TopicNames = append(req.TopicNames, *tp.Topic)
			}
		}
		r, err := e.cl.Request(e.ctx, req)
		require.NoError(t, err)
		return r.(*kmsg.DeleteTopicsResponse).Topics
	}
	byName := func(n string) kmsg.DeleteTopicsRequestTopic {
		return kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(n)}
	}
	res := del(6, byName("d1"), byName("__consumer_offsets"), kmsg.DeleteTopicsRequestTopic{TopicID: [16]byte{1}})
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, res[0].ErrorCode)
	require.Equal(t, kerr.InvalidRequest.Code, res[1].ErrorCode)
	require.Equal(t, kerr.UnknownTopicID.Code, res[2].ErrorCode)

	res = del(6, kmsg.DeleteTopicsRequestTopic{TopicID: id})
	require.Zero(t, res[0].ErrorCode, deref(res[0].ErrorMessage))
	require.Equal(t, "d2", deref(res[0].Topic))
	md, err = e.adm.ListTopics(e.ctx)
	require.NoError(t, err)
	require.Empty(t, md.Names())

	e2 := newAdminEnv(t, "KAFKA_DELETE_TOPIC_ENABLE=false")
	e2.mustCreate("keep", 1)
	for _, v := range []int16{6} { // kgo negotiates the newest version
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TopicNames = v, []string{"keep"}
		req.Topics = []kmsg.DeleteTopicsRequestTopic{byName("keep")}
		r, err := e2.cl.Request(e2.ctx, req)
		require.NoError(t, err)
		want := kerr.TopicDeletionDisabled.Code
		if v < 3 {
			want = kerr.InvalidRequest.Code
		}
		require.Equal(t, want, r.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode, "v%d", v)
	}
}

func describeConfigs(t *testing.T, e *adminEnv, typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, keys
	req.Resources = append(req.Resources, rr)
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	// Sent to broker 1 directly: kgo routes a broker resource to its broker.
	r, err := e.cl.Broker(1).Request(e.ctx, req)
	require.NoError(t, err)
	resp := r.(*kmsg.DescribeConfigsResponse)
	require.Len(t, resp.Resources, 1)
	return resp.Resources[0]
}

func configByName(t *testing.T, r kmsg.DescribeConfigsResponseResource, name string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	for _, c := range r.Configs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("config %s not described", name)
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

func sources(c kmsg.DescribeConfigsResponseResourceConfig) []string {
	var out []string
	for _, s := range c.ConfigSynonyms {
		out = append(out, fmt.Sprintf("%s=%s@%d", s.Name, deref(s.Value), s.Source))
	}
	return out
}

func TestAdminConfigs(t *testing.T) {
	e := newAdminEnv(t, "KAFKA_LOG_SEGMENT_BYTES=2097152")
	e.mustCreate("c", 1, "retention.ms", "5000")

	r := describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c")
	require.Zero(t, r.ErrorCode)
	c := configByName(t, r, "retention.ms")
	require.Equal(t, "5000", deref(c.Value))
	require.Equal(t, kmsg.ConfigSourceDynamicTopicConfig, c.Source)
	require.Equal(t, kmsg.ConfigTypeLong, c.ConfigType)
	require.NotNil(t, c.Documentation)
	require.Equal(t, "retention.ms=5000@1", sources(c)[0])
	c = configByName(t, r, "segment.bytes")
	require.Equal(t, "2097152", deref(c.Value))
	require.Equal(t, kmsg.ConfigSourceStaticBrokerConfig, c.Source)
	require.Equal(t, "log.segment.bytes=2097152@4", sources(c)[0])

	// Key filter.
	r = describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c", "cleanup.policy")
	require.Len(t, r.Configs, 1)

	// Cluster-default broker config overrides the static one.
	alter := func(typ kmsg.ConfigResourceType, name string, validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, ops
		req.Resources, req.ValidateOnly = append(req.Resources, rr), validateOnly
		resp, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		return resp.Resources[0]
	}
	op := func(name string, o kmsg.IncrementalAlterConfigOp, v string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = name, o
		if o != kmsg.IncrementalAlterConfigOpDelete {
			c.Value = kmsg.StringPtr(v)
		}
		return c
	}
	res := alter(kmsg.ConfigResourceTypeBroker, "", false, op("log.segment.bytes", kmsg.IncrementalAlterConfigOpSet, "4194304"))
	require.Zero(t, res.ErrorCode, deref(res.ErrorMessage))
	c = configByName(t, describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c"), "segment.bytes")
	require.Equal(t, "4194304", deref(c.Value))
	require.Equal(t, kmsg.ConfigSourceDynamicDefaultBrokerConfig, c.Source)
	require.Equal(t, []string{"log.segment.bytes=4194304@3", "log.segment.bytes=2097152@4", "log.segment.bytes=1073741824@5"}, sources(c))

	def := describeConfigs(t, e, kmsg.ConfigResourceTypeBroker, "")
	require.Zero(t, def.ErrorCode)
	require.Len(t, def.Configs, 1, "the default entity lists only what is set on it")
	require.Equal(t, kmsg.ConfigSourceDynamicDefaultBrokerConfig, def.Configs[0].Source)
	b1 := describeConfigs(t, e, kmsg.ConfigResourceTypeBroker, "1", "log.segment.bytes", "node.id")
	require.Equal(t, kmsg.ConfigSourceDynamicDefaultBrokerConfig, configByName(t, b1, "log.segment.bytes").Source)
	require.True(t, configByName(t, b1, "node.id").ReadOnly)

	// Incremental ops on a topic.
	// Kafka appends to the default list when the key is unset; Spool's
	// controller appends to an empty one, so set it first (see report).
	res = alter(kmsg.ConfigResourceTypeTopic, "c", false, op("cleanup.policy", kmsg.IncrementalAlterConfigOpSet, "delete"))
	require.Zero(t, res.ErrorCode, deref(res.ErrorMessage))
	res = alter(kmsg.ConfigResourceTypeTopic, "c", false,
		op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, ""),
		op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "compact"),
		op("segment.ms", kmsg.IncrementalAlterConfigOpSet, "100000"))
	require.Zero(t, res.ErrorCode, deref(res.ErrorMessage))
	r = describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c")
	require.Equal(t, kmsg.ConfigSourceDefaultConfig, configByName(t, r, "retention.ms").Source)
	require.Equal(t, "delete,compact", deref(configByName(t, r, "cleanup.policy").Value))
	require.Equal(t, "100000", deref(configByName(t, r, "segment.ms").Value))
	res = alter(kmsg.ConfigResourceTypeTopic, "c", false, op("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "delete"))
	require.Zero(t, res.ErrorCode, deref(res.ErrorMessage))
	r = describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c", "cleanup.policy")
	require.Equal(t, "compact", deref(r.Configs[0].Value))

	// validateOnly changes nothing.
	res = alter(kmsg.ConfigResourceTypeTopic, "c", true, op("segment.ms", kmsg.IncrementalAlterConfigOpSet, "200000"))
	require.Zero(t, res.ErrorCode)
	require.Equal(t, "100000", deref(describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c", "segment.ms").Configs[0].Value))

	for _, tc := range []struct {
		name string
		typ  kmsg.ConfigResourceType
		res  string
		op   kmsg.IncrementalAlterConfigsRequestResourceConfig
		code int16
		msg  string
	}{
		{"append non-list", kmsg.ConfigResourceTypeTopic, "c", op("retention.ms", kmsg.IncrementalAlterConfigOpAppend, "1"), kerr.InvalidConfig.Code, "Can't APPEND to key retention.ms because its type is not LIST."},
		{"subtract non-list", kmsg.ConfigResourceTypeTopic, "c", op("segment.ms", kmsg.IncrementalAlterConfigOpSubtract, "1"), kerr.InvalidConfig.Code, "Can't SUBTRACT to key segment.ms because its type is not LIST."},
		{"bad value", kmsg.ConfigResourceTypeTopic, "c", op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "abc"), kerr.InvalidConfig.Code, "retention.ms"},
		{"unknown name", kmsg.ConfigResourceTypeTopic, "c", op("nope", kmsg.IncrementalAlterConfigOpSet, "1"), kerr.InvalidConfig.Code, "Unknown topic config name: nope"},
		{"unknown topic", kmsg.ConfigResourceTypeTopic, "missing", op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "1"), kerr.UnknownTopicOrPartition.Code, ""},
		{"bad broker value", kmsg.ConfigResourceTypeBroker, "1", op("log.segment.bytes", kmsg.IncrementalAlterConfigOpSet, "x"), kerr.InvalidConfig.Code, "log.segment.bytes"},
		{"read-only broker config", kmsg.ConfigResourceTypeBroker, "1", op("node.id", kmsg.IncrementalAlterConfigOpSet, "2"), kerr.InvalidConfig.Code, "node.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := alter(tc.typ, tc.res, false, tc.op)
			require.Equal(t, tc.code, res.ErrorCode, deref(res.ErrorMessage))
			require.Contains(t, deref(res.ErrorMessage), tc.msg)
		})
	}

	// Legacy AlterConfigs replaces the whole override set.
	_, err := e.adm.AlterTopicConfigsState(e.ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("7000")}}, "c")
	require.NoError(t, err)
	r = describeConfigs(t, e, kmsg.ConfigResourceTypeTopic, "c")
	require.Equal(t, "7000", deref(configByName(t, r, "retention.ms").Value))
	require.Equal(t, kmsg.ConfigSourceDefaultConfig, configByName(t, r, "segment.ms").Source, "not in the request: removed")
	require.Equal(t, kmsg.ConfigSourceDefaultConfig, configByName(t, r, "cleanup.policy").Source)

	// DescribeConfigs errors.
	for _, tc := range []struct {
		typ  kmsg.ConfigResourceType
		name string
		code int16
	}{
		{kmsg.ConfigResourceTypeTopic, "missing", kerr.UnknownTopicOrPartition.Code},
		{kmsg.ConfigResourceTypeTopic, "bad name!", kerr.InvalidTopicException.Code},
		{kmsg.ConfigResourceTypeBroker, "2", kerr.InvalidRequest.Code},
		{kmsg.ConfigResourceTypeBroker, "x", kerr.InvalidRequest.Code},
		{kmsg.ConfigResourceTypeBrokerLogger, "", kerr.InvalidRequest.Code},
		{kmsg.ConfigResourceTypeBrokerLogger, "1", 0},
	} {
		r := describeConfigs(t, e, tc.typ, tc.name)
		require.Equal(t, tc.code, r.ErrorCode, "%v %q: %s", tc.typ, tc.name, deref(r.ErrorMessage))
	}
}

// deleteRecordsOf sends one DeleteRecords partition to broker 1 directly (kgo
// would refuse an unknown partition) and returns its answer.
func deleteRecordsOf(t *testing.T, e *adminEnv, topic string, offset int64, partition int32) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: partition, Offset: offset}}
	req.Topics, req.TimeoutMillis = append(req.Topics, rt), 5000
	resp, err := e.cl.Broker(1).Request(e.ctx, req)
	require.NoError(t, err)
	return resp.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
}

// TestDeleteRecordsRefusals: as Kafka, DeleteRecords refuses internal topics
// (INVALID_TOPIC_EXCEPTION, whether or not they exist) and topics whose
// cleanup.policy lacks delete (POLICY_VIOLATION), and moves nothing there.
func TestDeleteRecordsRefusals(t *testing.T) {
	e := newAdminEnv(t)
	_, err := e.adm.CreateTopic(e.ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "compacted")
	require.NoError(t, err)
	require.NoError(t, e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("v")}).FirstErr())
	for _, topic := range []string{"__consumer_offsets", "__transaction_state", "__share_group_state"} {
		require.Equal(t, kerr.InvalidTopicException.Code, deleteRecordsOf(t, e, topic, 0, 0).ErrorCode, topic)
	}
	p := deleteRecordsOf(t, e, "compacted", 1, 0)
	require.Equal(t, kerr.PolicyViolation.Code, p.ErrorCode)
	require.Equal(t, int64(-1), p.LowWatermark)
	starts, err := e.adm.ListStartOffsets(e.ctx, "compacted")
	require.NoError(t, err)
	o, _ := starts.Lookup("compacted", 0)
	require.Zero(t, o.Offset)
}

func TestAdminRecordsAndLogDirs(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("r", 1)
	for i := 0; i < 10; i++ {
		require.NoError(t, e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: "r", Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	del := func(offset int64, partition int32) kmsg.DeleteRecordsResponseTopicPartition {
		return deleteRecordsOf(t, e, "r", offset, partition)
	}
	p := del(5, 0)
	require.Zero(t, p.ErrorCode)
	require.Equal(t, int64(5), p.LowWatermark)
	p = del(11, 0)
	require.Equal(t, kerr.OffsetOutOfRange.Code, p.ErrorCode)
	require.Equal(t, int64(-1), p.LowWatermark)
	p = del(3, 7)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, p.ErrorCode)
	p = del(-1, 0)
	require.Zero(t, p.ErrorCode)
	require.Equal(t, int64(10), p.LowWatermark)
	starts, err := e.adm.ListStartOffsets(e.ctx, "r")
	require.NoError(t, err)
	o, _ := starts.Lookup("r", 0)
	require.Equal(t, int64(10), o.Offset)

	// OffsetForLeaderEpoch with current-epoch fencing.
	md, err := e.adm.ListTopics(e.ctx, "r")
	require.NoError(t, err)
	epoch := md["r"].Partitions[0].LeaderEpoch
	ofle := func(current, asked int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "r"
		rt.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: current, LeaderEpoch: asked}}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0]
	}
	q := ofle(epoch, epoch)
	require.Zero(t, q.ErrorCode)
	require.Equal(t, epoch, q.LeaderEpoch)
	require.Equal(t, int64(10), q.EndOffset)
	require.Equal(t, kerr.UnknownLeaderEpoch.Code, ofle(epoch+1, epoch).ErrorCode)
	if epoch > 0 {
		require.Equal(t, kerr.FencedLeaderEpoch.Code, ofle(epoch-1, epoch).ErrorCode)
	}

	dirs, err := e.adm.DescribeAllLogDirs(e.ctx, nil)
	require.NoError(t, err)
	require.Len(t, dirs[1], 1)
	for _, d := range dirs[1] {
		require.NoError(t, d.Err)
		require.Positive(t, d.TotalBytes)
		require.Positive(t, d.UsableBytes)
		part, ok := d.Topics["r"][0]
		require.True(t, ok)
		require.Positive(t, part.Size)
		require.Zero(t, part.OffsetLag)
	}
}

func TestAdminClusterAndPartitions(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("x", 2)
	e.mustCreate("y", 2)

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeFencedBrokers = true
	resp, err := dc.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Zero(t, resp.ErrorCode)
	require.Equal(t, int32(1), resp.ControllerID)
	require.Len(t, resp.Brokers, 1)
	require.NotEmpty(t, resp.ClusterID)
	dc.EndpointType = 2
	resp, err = dc.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Equal(t, kerr.MismatchedEndpointType.Code, resp.ErrorCode)
	dc.EndpointType = 3
	resp, err = dc.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Equal(t, kerr.UnsupportedEndpointType.Code, resp.ErrorCode)

	// DescribeTopicPartitions pages through partitions in topic order.
	dtp := func(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) *kmsg.DescribeTopicPartitionsResponse {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		for _, n := range topics {
			req.Topics = append(req.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: n})
		}
		req.ResponsePartitionLimit, req.Cursor = limit, cursor
		r, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		return r
	}
	page := dtp(3, nil)
	require.Len(t, page.Topics, 2)
	require.Len(t, page.Topics[0].Partitions, 2)
	require.Len(t, page.Topics[1].Partitions, 1)
	require.NotNil(t, page.NextCursor)
	require.Equal(t, "y", page.NextCursor.Topic)
	require.Equal(t, int32(1), page.NextCursor.Partition)
	page = dtp(3, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "y", Partition: 1})
	require.Len(t, page.Topics, 1)
	require.Equal(t, int32(1), page.Topics[0].Partitions[0].Partition)
	require.Nil(t, page.NextCursor)
	page = dtp(2, nil, "y", "x")
	require.Equal(t, "y", page.NextCursor.Topic)
	require.Zero(t, page.NextCursor.Partition)
	page = dtp(10, nil, "nope")
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, page.Topics[0].ErrorCode)
	// A cursor with a negative partition, or outside the named topics, is
	// refused with INVALID_REQUEST on every named topic (it used to panic).
	for _, c := range []struct {
		cursor kmsg.DescribeTopicPartitionsRequestCursor
		topics []string
	}{{kmsg.DescribeTopicPartitionsRequestCursor{Topic: "y", Partition: -1}, []string{"x", "y"}},
		{kmsg.DescribeTopicPartitionsRequestCursor{Topic: "y", Partition: 0}, []string{"x"}}} {
		page = dtp(10, &c.cursor, c.topics...)
		require.Len(t, page.Topics, len(c.topics))
		for _, tp := range page.Topics {
			require.Equal(t, kerr.InvalidRequest.Code, tp.ErrorCode, "%+v", c)
			require.Empty(t, tp.Partitions)
		}
		require.Nil(t, page.NextCursor)
	}
	page = dtp(10, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "x", Partition: -5})
	require.Empty(t, page.Topics)

	// Elections: the only replica already leads.
	ts := make(kadm.TopicsSet)
	ts.Add("x", 0)
	el, err := e.adm.ElectLeaders(e.ctx, kadm.ElectPreferredReplica, ts)
	require.NoError(t, err)
	require.ErrorIs(t, el["x"][0].Err, kerr.ElectionNotNeeded)
	el, err = e.adm.ElectLeaders(e.ctx, kadm.ElectPreferredReplica, nil)
	require.NoError(t, err)
	require.Empty(t, el)

	// Reassignments.
	apr := func(replicas []int32) kmsg.AlterPartitionAssignmentsResponseTopicPartition {
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = "x"
		rt.Partitions = []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: replicas}}
		req.Topics = append(req.Topics, rt)
		r, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		return r.Topics[0].Partitions[0]
	}
	require.Zero(t, apr([]int32{1}).ErrorCode)
	bad := apr([]int32{7})
	require.Equal(t, kerr.InvalidReplicaAssignment.Code, bad.ErrorCode)
	require.Equal(t, "The manual partition assignment includes broker 7, but no such broker is registered.", deref(bad.ErrorMessage))
	require.Equal(t, kerr.InvalidReplicaAssignment.Code, apr([]int32{1, 1}).ErrorCode)
	require.Equal(t, kerr.NoReassignmentInProgress.Code, apr(nil).ErrorCode)
	lr, err := e.adm.ListPartitionReassignments(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, lr)
}

// TestOffsetDeleteUnknownPartitions: OffsetDelete deletes the committed
// offsets of known partitions and answers a topic or partition the metadata
// does not know with UNKNOWN_TOPIC_OR_PARTITION, as Kafka's KafkaApis does.
func TestOffsetDeleteUnknownPartitions(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("od", 2)
	offs := make(kadm.Offsets)
	offs.AddOffset("od", 0, 5, -1)
	offs.AddOffset("od", 1, 7, -1)
	err := e.adm.CommitAllOffsets(e.ctx, "od-group", offs)
	require.NoError(t, err)

	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "od-group"
	for _, tp := range []struct {
		topic      string
		partitions []int32
	}{{"od", []int32{0, 2}}, {"missing", []int32{0}}} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = tp.topic
		for _, p := range tp.partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Zero(t, resp.ErrorCode)
	got := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			got[fmt.Sprintf("%s-%d", rt.Topic, p.Partition)] = p.ErrorCode
		}
	}
	require.Equal(t, map[string]int16{
		"od-0": 0, "od-2": kerr.UnknownTopicOrPartition.Code, "missing-0": kerr.UnknownTopicOrPartition.Code,
	}, got)
	left, err := e.adm.FetchOffsets(e.ctx, "od-group")
	require.NoError(t, err)
	_, ok := left.Lookup("od", 0)
	require.False(t, ok, "od-0's offset is deleted")
	o, ok := left.Lookup("od", 1)
	require.True(t, ok)
	require.Equal(t, int64(7), o.At)
}

// TestEmptyGroupID: as Kafka 4.3.1 (compared request by request), the group
// APIs answer an empty group id INVALID_GROUP_ID before asking the
// coordinator, while OffsetCommit accepts it "for backwards compatibility"
// and DescribeGroups reports it Dead.
func TestEmptyGroupID(t *testing.T) {
	e := newAdminEnv(t)
	e.mustCreate("eg", 1)
	// The coordinator answers once __consumer_offsets exists (before that,
	// Kafka too answers NOT_COORDINATOR): a commit through kadm waits for it.
	warm := make(kadm.Offsets)
	warm.AddOffset("eg", 0, 1, -1)
	require.NoError(t, e.adm.CommitAllOffsets(e.ctx, "warm-up", warm))
	send := func(r kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := e.cl.Broker(1).Request(e.ctx, r)
		require.NoError(t, err)
		return resp
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Generation, hb.MemberID = 1, "m"
	require.Equal(t, kerr.InvalidGroupID.Code, send(hb).(*kmsg.HeartbeatResponse).ErrorCode)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Generation, sg.MemberID = 1, "m"
	require.Equal(t, kerr.InvalidGroupID.Code, send(sg).(*kmsg.SyncGroupResponse).ErrorCode)
	lg := kmsg.NewPtrLeaveGroupRequest()
	lg.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
	lr := send(lg).(*kmsg.LeaveGroupResponse)
	require.Equal(t, kerr.InvalidGroupID.Code, lr.ErrorCode)
	require.Empty(t, lr.Members)
	od := kmsg.NewPtrOffsetDeleteRequest()
	require.Equal(t, kerr.InvalidGroupID.Code, send(od).(*kmsg.OffsetDeleteResponse).ErrorCode)
	cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cgd.Groups = []string{""}
	require.Equal(t, kerr.InvalidGroupID.Code, send(cgd).(*kmsg.ConsumerGroupDescribeResponse).Groups[0].ErrorCode)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{""}
	d := send(dg).(*kmsg.DescribeGroupsResponse).Groups[0]
	require.Equal(t, kerr.GroupIDNotFound.Code, d.ErrorCode)
	require.Equal(t, "Dead", d.State)

	// OffsetCommit v9 (by topic name: a client capped at Kafka 3.9's
	// versions) with the empty group id, read back with OffsetFetch.
	old, err := kgo.NewClient(kgo.SeedBrokers(e.cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.MaxVersions(kversion.V3_9_0()))
	require.NoError(t, err)
	defer old.Close()
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "eg"
	rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3}}
	oc.Topics = append(oc.Topics, rt)
	resp, err := old.Broker(1).Request(e.ctx, oc)
	require.NoError(t, err)
	require.Zero(t, resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode)
	of := kmsg.NewPtrOffsetFetchRequest()
	g := kmsg.NewOffsetFetchRequestGroup()
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = "eg", []int32{0}
	g.Topics = append(g.Topics, gt)
	of.Groups = append(of.Groups, g)
	resp, err = old.Broker(1).Request(e.ctx, of)
	require.NoError(t, err)
	fr := resp.(*kmsg.OffsetFetchResponse).Groups[0]
	require.Zero(t, fr.ErrorCode)
	require.Equal(t, int64(3), fr.Topics[0].Partitions[0].Offset)
}
