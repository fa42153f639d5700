package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol/errcode"
)

// TestInternalTopicsWaitForBrokers: with Kafka's defaults for the internal
// topics (offsets.topic.replication.factor=3,
// transaction.state.log.replication.factor=3, min ISR 2) a lone broker
// never creates them with fewer replicas: group and transaction
// coordinator lookups answer COORDINATOR_NOT_AVAILABLE, as Kafka's do until
// three brokers are alive. Set to 1 (Kafka's single-node examples, Spool's
// zero configuration) they are created at once.
func TestInternalTopicsWaitForBrokers(t *testing.T) {
	find := func(rc *rawConn, typ int8, key string) int16 {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKeys = typ, []string{key}
		return rc.do(req, 4).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode
	}
	for _, tc := range []struct {
		name string
		env  []string
		want int16
	}{
		{"Kafka defaults, one broker", []string{"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=2"}, errcode.CoordinatorNotAvailable},
		{"replication 1", nil, errcode.None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startTestNode(t, tc.env...)
			rc := dialRaw(t, n.addr)
			for range 3 { // lookups retry; none may create a smaller topic
				require.Equal(t, errcode.Name(tc.want), errcode.Name(find(rc, 0, "group")))
				require.Equal(t, errcode.Name(tc.want), errcode.Name(find(rc, 1, "txn")))
			}
			img := n.broker.syncImage()
			for _, topic := range []string{consumerOffsetsTopic, transactionStateTopic} {
				if tc.want != 0 {
					require.Nil(t, img.Topic(topic), "%s created with fewer replicas than configured", topic)
					continue
				}
				require.NotNil(t, img.Topic(topic))
				require.Len(t, img.Topic(topic).Partitions[0].Replicas, 1)
			}
		})
	}
}
