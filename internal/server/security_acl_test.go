package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol/records"
)

// aclNode is a secureNode with Kafka's StandardAuthorizer and User:admin as
// super user; clients log in with PLAIN over SASL_PLAINTEXT.
func aclNode(t *testing.T, p *testPKI, extra ...string) *secureNode {
	return startSecureNode(t, p, append([]string{
		"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_SUPER_USERS=User:admin",
	}, extra...)...)
}

// as is a client logged in as user (password <user>-secret).
func as(t *testing.T, n *secureNode, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.saslPlain),
		kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()), kgo.RequestRetries(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// addACL creates one ACL as admin.
func addACL(t *testing.T, admin *kgo.Client, rt acl.ResourceType, name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
	c.Principal, c.Host, c.Operation, c.PermissionType = principal, "*", kmsg.ACLOperation(op), kmsg.ACLPermissionType(perm)
	req.Creations = append(req.Creations, c)
	resp, err := req.RequestWith(ctx10(t), admin)
	require.NoError(t, err)
	require.Len(t, resp.Results, 1)
	require.Zero(t, resp.Results[0].ErrorCode, "%v", resp.Results[0].ErrorMessage)
}

// ordersID is the topic ID of "orders" (Produce and Fetch name topics by
// ID in their latest versions).
var ordersID [16]byte

func produceCode(t *testing.T, cl *kgo.Client, topic string, txnID *string) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, txnID
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, ordersID
	rp := kmsg.NewProduceRequestTopicPartition()
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Value: []byte("v")}})
	require.NoError(t, err)
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
	require.NoError(t, err)
	return resp.Topics[0].Partitions[0].ErrorCode
}

// TestACLs: the main APIs answer an allowed and a refused principal with
// Kafka's codes; super users pass; DENY beats ALLOW; prefixed ACLs apply;
// ACL changes take effect on open connections.
func TestACLs(t *testing.T) {
	p := makePKI(t)
	n := aclNode(t, p)
	admin, alice, bob := as(t, n, "admin"), as(t, n, "alice"), as(t, n, "bob")

	// admin (super user) sets up a topic and alice's ACLs.
	ct := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "orders", 1, 1
	ct.Topics = append(ct.Topics, tp)
	ctr, err := ct.RequestWith(ctx10(t), admin)
	require.NoError(t, err)
	require.Zero(t, ctr.Topics[0].ErrorCode)
	ordersID = ctr.Topics[0].TopicID
	for _, op := range []acl.Operation{acl.OpRead, acl.OpWrite} {
		addACL(t, admin, acl.ResourceTopic, "orders", acl.PatternLiteral, "User:alice", op, acl.Allow)
	}
	addACL(t, admin, acl.ResourceGroup, "g1", acl.PatternLiteral, "User:alice", acl.OpRead, acl.Allow)
	addACL(t, admin, acl.ResourceTransactionalID, "tx-alice", acl.PatternLiteral, "User:alice", acl.OpWrite, acl.Allow)

	type check struct {
		name string
		run  func(t *testing.T, cl *kgo.Client) int16
		want map[string]int16 // principal -> code
	}
	pick := func(m map[string]int16, who string) int16 { return m[who] }
	metaNamed := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("orders")
		req.Topics = append(req.Topics, mt)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].ErrorCode
	}
	metaAllCount := func(t *testing.T, cl *kgo.Client) int16 {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return int16(len(resp.Topics))
	}
	fetch := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = -1, 0, 1<<20, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "orders", ordersID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = 0, 1<<20, -1, -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	listOffsets := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrListOffsetsRequest()
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = "orders"
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, -1, -1
		lt.Partitions = append(lt.Partitions, lp)
		req.Topics = append(req.Topics, lt)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	createTopic := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "made-by-"+cl.OptValue(kgo.ClientID).(string), 1, 1
		req.Topics = append(req.Topics, tp)
		req.ValidateOnly = true
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].ErrorCode
	}
	describeTopicConfig := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "orders"
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Resources[0].ErrorCode
	}
	describeBrokerConfig := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Resources[0].ErrorCode
	}
	alterTopicConfig := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "orders"
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("100000")
		r.Configs = append(r.Configs, c)
		req.Resources = append(req.Resources, r)
		req.ValidateOnly = true
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Resources[0].ErrorCode
	}
	deleteTopic := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{"no-such-topic"}
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr("no-such-topic")
		req.Topics = append(req.Topics, dt)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].ErrorCode
	}
	findGroup := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorKeys = "g1", []string{"g1"}
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		if len(resp.Coordinators) > 0 {
			return resp.Coordinators[0].ErrorCode
		}
		return resp.ErrorCode
	}
	offsetCommit := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "g1", -1
		ot := kmsg.NewOffsetCommitRequestTopic()
		ot.Topic, ot.TopicID = "orders", ordersID
		op := kmsg.NewOffsetCommitRequestTopicPartition()
		op.Partition, op.Offset, op.LeaderEpoch = 0, 0, -1
		ot.Partitions = append(ot.Partitions, op)
		req.Topics = append(req.Topics, ot)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	offsetFetch := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrOffsetFetchRequest()
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = "g1"
		req.Groups = append(req.Groups, g)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Groups[0].ErrorCode
	}
	initTxn := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("tx-alice"), 10000
		var code int16
		// The first call creates __transaction_state: wait for its
		// coordinator to load.
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKey, fc.CoordinatorKeys = 1, "tx-alice", []string{"tx-alice"}
		require.Eventually(t, func() bool {
			_, err := fc.RequestWith(ctx10(t), cl.Broker(1))
			require.NoError(t, err)
			resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
			require.NoError(t, err)
			code = resp.ErrorCode
			return !kerr.IsRetriable(kerr.ErrorForCode(code))
		}, 20*time.Second, 50*time.Millisecond)
		return code
	}
	initIdempotent := func(t *testing.T, cl *kgo.Client) int16 {
		resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.ErrorCode
	}
	createACL := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrCreateACLsRequest()
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = "User:mallory", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, c)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Results[0].ErrorCode
	}
	describeACLs := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.ErrorCode
	}
	alterScram := func(t *testing.T, cl *kgo.Client) int16 {
		req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = "nobody", 2
		req.Deletions = append(req.Deletions, d)
		resp, err := req.RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.Results[0].ErrorCode
	}
	describeLogDirs := func(t *testing.T, cl *kgo.Client) int16 {
		resp, err := kmsg.NewPtrDescribeLogDirsRequest().RequestWith(ctx10(t), cl.Broker(1))
		require.NoError(t, err)
		return resp.ErrorCode
	}

	const (
		ok    = 0
		taf   = 29 // TOPIC_AUTHORIZATION_FAILED
		gaf   = 30 // GROUP_AUTHORIZATION_FAILED
		caf   = 31 // CLUSTER_AUTHORIZATION_FAILED
		txaf  = 53 // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
		unkTP = 3  // UNKNOWN_TOPIC_OR_PARTITION
	)
	checks := []check{
		{"Produce", func(t *testing.T, cl *kgo.Client) int16 { return produceCode(t, cl, "orders", nil) }, map[string]int16{"admin": ok, "alice": ok, "bob": taf}},
		{"Produce transactional", func(t *testing.T, cl *kgo.Client) int16 {
			return produceCode(t, cl, "orders", kmsg.StringPtr("tx-bob"))
		}, map[string]int16{"alice": txaf, "bob": txaf}},
		{"Fetch", fetch, map[string]int16{"admin": ok, "alice": ok, "bob": taf}},
		{"ListOffsets", listOffsets, map[string]int16{"admin": ok, "alice": ok, "bob": taf}},
		{"Metadata named", metaNamed, map[string]int16{"admin": ok, "alice": ok, "bob": taf}},
		{"Metadata all: topics seen", metaAllCount, map[string]int16{"admin": 1, "alice": 1, "bob": 0}},
		{"CreateTopics", createTopic, map[string]int16{"admin": ok, "alice": taf, "bob": taf}},
		{"DeleteTopics", deleteTopic, map[string]int16{"admin": unkTP, "alice": taf}},
		{"DescribeConfigs topic", describeTopicConfig, map[string]int16{"admin": ok, "alice": taf, "bob": taf}},
		{"DescribeConfigs broker", describeBrokerConfig, map[string]int16{"admin": ok, "alice": caf}},
		{"IncrementalAlterConfigs topic", alterTopicConfig, map[string]int16{"admin": ok, "alice": taf}},
		{"FindCoordinator group", findGroup, map[string]int16{"admin": ok, "alice": ok, "bob": gaf}},
		{"OffsetCommit", offsetCommit, map[string]int16{"alice": ok, "bob": gaf}},
		{"OffsetFetch", offsetFetch, map[string]int16{"alice": ok, "bob": gaf}},
		{"InitProducerId transactional", initTxn, map[string]int16{"admin": ok, "alice": ok, "bob": txaf}},
		{"InitProducerId idempotent", initIdempotent, map[string]int16{"admin": ok, "alice": ok, "bob": caf}},
		{"CreateAcls", createACL, map[string]int16{"alice": caf}},
		{"DescribeAcls", describeACLs, map[string]int16{"admin": ok, "alice": caf}},
		{"AlterUserScramCredentials", alterScram, map[string]int16{"alice": caf, "admin": 91}}, // RESOURCE_NOT_FOUND once allowed
		{"DescribeLogDirs", describeLogDirs, map[string]int16{"admin": ok, "bob": caf}},
	}
	clients := map[string]*kgo.Client{"admin": admin, "alice": alice, "bob": bob}
	for _, c := range checks {
		for _, who := range []string{"admin", "alice", "bob"} {
			want, asked := c.want[who]
			if !asked {
				continue
			}
			t.Run(c.name+"/"+who, func(t *testing.T) {
				require.Equal(t, pick(c.want, who), c.run(t, clients[who]), "%s as %s (want %s)", c.name, who, kerr.ErrorForCode(want))
			})
		}
	}

	t.Run("authorized operations", func(t *testing.T) {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		resp, err := req.RequestWith(ctx10(t), alice)
		require.NoError(t, err)
		require.Zero(t, resp.ClusterAuthorizedOperations, "no DESCRIBE on the cluster: no operations")
		resp, err = req.RequestWith(ctx10(t), admin)
		require.NoError(t, err)
		require.Equal(t, int32(1<<5|1<<7|1<<8|1<<9|1<<10|1<<11|1<<12), resp.ClusterAuthorizedOperations)

		mreq := kmsg.NewPtrMetadataRequest()
		mreq.IncludeTopicAuthorizedOperations = true
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("orders")
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx10(t), alice)
		require.NoError(t, err)
		// READ and WRITE, and DESCRIBE which they imply.
		require.Equal(t, int32(1<<3|1<<4|1<<8), mresp.Topics[0].AuthorizedOperations)
	})

	t.Run("changes take effect without reconnecting", func(t *testing.T) {
		require.Equal(t, int16(taf), produceCode(t, bob, "orders", nil))
		addACL(t, admin, acl.ResourceTopic, "ord", acl.PatternPrefixed, "User:bob", acl.OpWrite, acl.Allow)
		require.Equal(t, int16(ok), produceCode(t, bob, "orders", nil), "a prefixed ALLOW applies on the open connection")
		addACL(t, admin, acl.ResourceTopic, "orders", acl.PatternLiteral, "User:bob", acl.OpWrite, acl.Deny)
		require.Equal(t, int16(taf), produceCode(t, bob, "orders", nil), "DENY beats ALLOW")
		addACL(t, admin, acl.ResourceTopic, "*", acl.PatternLiteral, "User:*", acl.OpRead, acl.Deny)
		require.Equal(t, int16(taf), fetch(t, alice), "a wildcard DENY beats alice's literal ALLOW")
		require.Equal(t, int16(ok), fetch(t, admin), "super users pass any DENY")

		req := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeAny
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeDeny
		req.Filters = append(req.Filters, f)
		resp, err := req.RequestWith(ctx10(t), admin)
		require.NoError(t, err)
		require.Len(t, resp.Results[0].MatchingACLs, 2)
		require.Equal(t, int16(ok), fetch(t, alice))
		require.Equal(t, int16(ok), produceCode(t, bob, "orders", nil))
	})

	t.Run("PLAINTEXT is User:ANONYMOUS", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.plain), kgo.RequestRetries(0))
		require.NoError(t, err)
		defer cl.Close()
		require.Equal(t, int16(taf), produceCode(t, cl, "orders", nil))
	})
}
