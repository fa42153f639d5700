package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// RemoveRaftVoter (key 81): version 0.
//
// Behaviour:
//   - Forwarded to the metadata quorum's leader and answered as it
//     answers (controller/voters.go), as Kafka's brokers forward it
//     (kafka-metadata-quorum --bootstrap-server remove-controller); see
//     api_80_add_raft_voter.go.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - The quorum is hashicorp/raft, not KRaft (see DescribeQuorum): a voter
//     other than the leader is demoted, then removed (two configuration
//     changes where KRaft writes one VotersRecord), and a voter whose
//     directory id the leader has not learned is matched by id alone.
func (b *Broker) handleRemoveRaftVoter(ctx context.Context, rc *reqCtx, req *protocol.RemoveRaftVoterRequest) (*protocol.RemoveRaftVoterResponse, error) {
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go
		msg := clusterAuthzMessage
		return &protocol.RemoveRaftVoterResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp, err := b.forwardRaftVoterChange(ctx, req)
	if err != nil {
		code, msg := controller.ErrorCode(err)
		return &protocol.RemoveRaftVoterResponse{ErrorCode: code, ErrorMessage: &msg}, nil
	}
	return resp.(*protocol.RemoveRaftVoterResponse), nil
}
