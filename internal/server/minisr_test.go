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

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// TestMinInsyncReplicasRF1 is Kafka 4.3.1's answer for an RF 1 topic whose
// min.insync.replicas is above its replica count: acks=all writes succeed,
// because the effective minimum is capped at the replica count. Both the
// topic override and the broker's static default are above 1 here.
func TestMinInsyncReplicasRF1(t *testing.T) {
	n := startTestNode(t, "KAFKA_MIN_INSYNC_REPLICAS=3")
	two := "2"
	createTopic(t, n.addr, "rf1-min2", 1, map[string]*string{"min.insync.replicas": &two})
	createTopic(t, n.addr, "rf1-min3-broker", 1, nil)

	adm := kadm.NewClient(newClient(t, n.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, "rf1-min2", "rf1-min3-broker")
	require.NoError(t, err)
	for topic, want := range map[string]string{"rf1-min2": "2", "rf1-min3-broker": "3"} {
		rc, err := rcs.On(topic, nil)
		require.NoError(t, err)
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" {
				require.Equal(t, want, c.MaybeValue(), topic)
			}
		}
	}

	for _, topic := range []string{"rf1-min2", "rf1-min3-broker"} {
		for _, idempotent := range []bool{true, false} {
			opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(0)}
			if !idempotent {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl := newClient(t, n.addr, opts...)
			var recs []*kgo.Record
			for i := range 5 {
				recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "idempotent=%v-%d", idempotent, i)})
			}
			require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr(), "%s idempotent=%v", topic, idempotent)
		}
		got := consumeAll(t, n.addr, topic, 10)
		require.Len(t, got, 10)
	}
}

// TestMinInsyncReplicasNotEnoughReplicas: with two replicas, one of them
// out of the ISR (a fenced broker), min.insync.replicas=2 rejects acks=all
// writes with NOT_ENOUGH_REPLICAS before appending, and accepts acks=1.
// The setting resolves topic override > dynamic cluster default > static
// broker (a per-broker value is refused while ELR is enabled, as Kafka).
func TestMinInsyncReplicasNotEnoughReplicas(t *testing.T) {
	n := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Broker 2 registers (brokers register fenced) and never heartbeats,
	// so a new partition on {1, 2} starts with ISR {1}.
	_, err := n.broker.ctrl.RegisterBroker(ctx, controller.BrokerRegistration{ID: 2})
	require.NoError(t, err)

	cl := newClient(t, n.addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 10000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "min2", -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, []int32{1, 2}
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "min.insync.replicas", kmsg.StringPtr("2")
	ct.Configs = append(ct.Configs, cfg)
	create.Topics = append(create.Topics, ct)
	cresp, err := create.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, cresp.Topics[0].ErrorCode, "%v", cresp.Topics[0].ErrorMessage)
	require.Eventually(t, func() bool {
		p := n.broker.partition("min2", 0)
		return p != nil && p.IsLeader()
	}, 10*time.Second, 10*time.Millisecond)
	pi := n.broker.image.Load().Topic("min2").Partitions[0]
	require.Equal(t, []int32{1, 2}, pi.Replicas)
	require.Equal(t, []int32{1}, pi.ISR)

	rc := dialRaw(t, n.addr)
	adm := kadm.NewClient(cl)
	alter := func(resource func(context.Context, ...kadm.AlterConfig) (kadm.AlterConfigsResponses, error), op kadm.IncrementalOp, value *string) {
		t.Helper()
		resps, err := resource(ctx, kadm.AlterConfig{Op: op, Name: "min.insync.replicas", Value: value})
		require.NoError(t, err)
		for _, r := range resps {
			require.NoError(t, r.Err)
		}
	}
	one, two := "1", "2"
	accepted := int64(0)
	steps := []struct {
		name  string
		setup func()
		acks  int16
		want  int16
	}{
		{"topic min 2, acks=all", func() {}, -1, errcode.NotEnoughReplicas},
		{"topic min 2, acks=1", func() {}, 1, 0},
		{"topic min 1, acks=all", func() {
			alter(func(ctx context.Context, c ...kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, c, "min2")
			}, kadm.SetConfig, &one)
		}, -1, 0},
		{"cluster default min 2, acks=all", func() {
			alter(func(ctx context.Context, c ...kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, c, "min2")
			}, kadm.DeleteConfig, nil)
			alter(func(ctx context.Context, c ...kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
				return adm.AlterBrokerConfigs(ctx, c) // the <default> broker entity
			}, kadm.SetConfig, &two)
		}, -1, errcode.NotEnoughReplicas},
		{"per-broker min 1 refused while ELR is enabled, acks=all", func() {
			// Kafka 4.3 refuses a broker-level min.insync.replicas while
			// eligible.leader.replicas.version >= 1 (on for new clusters):
			// the cluster default stays in force.
			resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: &one}}, 1)
			require.NoError(t, err)
			require.Len(t, resps, 1)
			require.ErrorIs(t, resps[0].Err, kerr.InvalidConfig)
			require.Equal(t, "Broker-level min.insync.replicas cannot be altered while ELR is enabled.", resps[0].ErrMessage)
		}, -1, errcode.NotEnoughReplicas},
	}
	for _, s := range steps {
		s.setup()
		pr := rc.produceAcks(s.acks, "min2", s.name)
		require.Equal(t, s.want, pr.ErrorCode, s.name)
		if s.want != 0 {
			require.EqualValues(t, -1, pr.BaseOffset, s.name)
			require.Nil(t, pr.ErrorMessage, "Kafka sends no message with NOT_ENOUGH_REPLICAS")
			continue
		}
		require.Equal(t, accepted, pr.BaseOffset, s.name)
		accepted++
	}
	// Only the accepted writes were appended.
	require.Equal(t, accepted, n.broker.partition("min2", 0).Log().LogEndOffset())
}

// produceAcks sends one single-record batch with the given acks (v9) and
// returns the partition's answer.
func (rc *rawConn) produceAcks(acks int16, topic, value string) kmsg.ProduceResponseTopicPartition {
	rc.t.Helper()
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte(value)}})
	require.NoError(rc.t, err)
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	tr := kmsg.NewProduceRequestTopic()
	tr.Topic = topic
	pr := kmsg.NewProduceRequestTopicPartition()
	pr.Records = batch
	tr.Partitions = append(tr.Partitions, pr)
	req.Topics = append(req.Topics, tr)
	resp := rc.do(req, 9).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0]
}
