package node_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/server"
	"github.com/spool-broker/spool/protocol"
)

// TestControllerListenerFailsClosedWithAuthorizer: the controller listener
// authenticates nobody yet, so with an authorizer configured a metadata
// write sent to it (which would bypass topic ACLs) closes the connection,
// while the quorum RPCs are still answered. Without an authorizer the same
// write is served (Kafka 4's --bootstrap-controller).
func TestControllerListenerFailsClosedWithAuthorizer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		authorizer bool
	}{{"no authorizer", false}, {"StandardAuthorizer", true}} {
		t.Run(tc.name, func(t *testing.T) {
			port, cport := freePort(t), freePort(t)
			env := []string{
				"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
				fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, cport),
				"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
				fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", cport),
				"KAFKA_LOG_DIRS=" + t.TempDir(),
			}
			if tc.authorizer {
				env = append(env, "KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
					"KAFKA_SUPER_USERS=User:ANONYMOUS")
			}
			cfg, _, err := config.Load("", env)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := node.Start(ctx, cfg, nil, zaptest.NewLogger(t), server.NewNodeBroker)
			require.NoError(t, err)
			defer n.Close(context.Background())
			caddr := fmt.Sprintf("127.0.0.1:%d", cport)

			q := rawRequest(t, caddr, 0, &protocol.DescribeQuorumRequest{}).(*protocol.DescribeQuorumResponse)
			require.Zero(t, q.ErrorCode)

			nc, err := net.DialTimeout("tcp", caddr, 5*time.Second)
			require.NoError(t, err)
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			id := "test"
			hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyCreateTopics, RequestAPIVersion: 7, CorrelationID: 1, ClientID: &id}
			frame, err := protocol.AppendRequest(nil, &hdr, &protocol.CreateTopicsRequest{
				TimeoutMs: 5000, Topics: []protocol.CreateTopicsRequestCreatableTopic{{Name: "bypass", NumPartitions: 1, ReplicationFactor: 1}},
			})
			require.NoError(t, err)
			_, err = nc.Write(frame)
			require.NoError(t, err)
			resp, err := protocol.ReadFrame(nc, 1<<26, nil)
			if tc.authorizer {
				require.Error(t, err, "the controller listener must close instead of creating the topic")
				require.Nil(t, n.Metadata().Image().Topic("bypass"))
				return
			}
			require.NoError(t, err)
			_, r, err := protocol.DecodeResponse(resp, protocol.KeyCreateTopics, 7)
			require.NoError(t, err)
			require.Zero(t, r.(*protocol.CreateTopicsResponse).Topics[0].ErrorCode)
		})
	}
}
