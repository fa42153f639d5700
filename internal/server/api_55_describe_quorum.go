package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeQuorum (key 55): versions 0-2.
//
// Behaviour:
//   - Forwarded to the active controller, as Kafka's brokers forward it, so
//     kafka-metadata-quorum --bootstrap-server works against any broker:
//     the leader, its epoch and high watermark, the voters and the
//     observers (brokers following the metadata log) with their fetch
//     state, and (v2) each voter's CONTROLLER endpoint.
//   - A controller that does not lead answers NOT_LEADER_OR_FOLLOWER in the
//     partition, naming the leader if it knows it; no reachable controller
//     is the top-level error.
//   - Authorization (authz.go): DESCRIBE on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: LastFetchTimestamp and LastCaughtUpTimestamp (KIP-836). v2:
//     ErrorMessage, Nodes and ReplicaDirectoryId (KIP-853).
//
// Where Spool differs from Kafka 4.3:
//   - The quorum is hashicorp/raft, not KRaft: offsets and the high
//     watermark are raft log indexes (+1); another voter's LogEndOffset is
//     the last index it acknowledged to this leader (-1 before its first
//     answer); ReplicaDirectoryId is what the leader learned (voters'
//     UpdateRaftVoter, observers' fetches; controller/voters.go) and zero
//     for brokers, which fetch without one.

// handleDescribeQuorum answers with the active controller's view of the
// metadata quorum: brokers forward DescribeQuorum, as Kafka's do, so
// kafka-metadata-quorum --bootstrap-server works against any broker.
func (b *Broker) handleDescribeQuorum(ctx context.Context, rc *reqCtx, req *protocol.DescribeQuorumRequest) (*protocol.DescribeQuorumResponse, error) {
	if !b.authorizeCluster(rc, acl.OpDescribe) { // authz.go
		msg := clusterAuthzMessage
		return &protocol.DescribeQuorumResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp, err := b.ctrl.DescribeQuorum(ctx)
	if err != nil {
		code, msg := controllerErrorCode(err)
		return &protocol.DescribeQuorumResponse{ErrorCode: code, ErrorMessage: &msg}, nil
	}
	return resp, nil
}
