package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AddRaftVoter (key 80): versions 0-1.
//
// Behaviour:
//   - Forwarded to the metadata quorum's leader and answered as it
//     answers (controller/voters.go: KIP-853 dynamic voters), as Kafka's
//     brokers forward it (kafka-metadata-quorum --bootstrap-server
//     add-controller). UpdateRaftVoter stays a controller-listener API,
//     as in Kafka.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED), checked here for the user who sent
//     it (Spool forwards without an Envelope).
//   - No controller reachable in time: REQUEST_TIMED_OUT.
//
// Version notes:
//   - v1: AckWhenCommitted.
//
// Where Spool differs from Kafka 4.3:
//   - AckWhenCommitted=false is not honoured: the answer always comes once
//     the new voter set is committed (raft's AddVoter), as for true, the
//     default; Kafka answers false once the leader has written the change.
func (b *Broker) handleAddRaftVoter(ctx context.Context, rc *reqCtx, req *protocol.AddRaftVoterRequest) (*protocol.AddRaftVoterResponse, error) {
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go
		msg := clusterAuthzMessage
		return &protocol.AddRaftVoterResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp, err := b.forwardRaftVoterChange(ctx, req)
	if err != nil {
		code, msg := controller.ErrorCode(err)
		return &protocol.AddRaftVoterResponse{ErrorCode: code, ErrorMessage: &msg}, nil
	}
	return resp.(*protocol.AddRaftVoterResponse), nil
}

// forwardRaftVoterChange sends req to the quorum leader; a response of
// another type than asked is an error, never a panic.
func (b *Broker) forwardRaftVoterChange(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	resp, err := b.ctrl.ChangeRaftVoters(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.APIKey() != req.APIKey() {
		return nil, controller.ErrUnknownServerError
	}
	return resp, nil
}
