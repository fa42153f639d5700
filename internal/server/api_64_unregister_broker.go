package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// UnregisterBroker (key 64): version 0.
//
// Behaviour:
//   - Forwarded to the active controller (kafka-cluster unregister), which
//     moves the broker out of every ISR and leadership and removes its
//     registration; an unknown broker id is BROKER_ID_NOT_REGISTERED. A
//     broker that is still running registers again.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the version served is read and
//     answered.

// handleUnregisterBroker forwards UnregisterBroker (kafka-cluster
// unregister) to the active controller, which takes the broker out of
// every ISR and leadership and removes its registration. A broker that is
// still running registers again.
func (b *Broker) handleUnregisterBroker(ctx context.Context, rc *reqCtx, req *protocol.UnregisterBrokerRequest) (*protocol.UnregisterBrokerResponse, error) {
	resp := &protocol.UnregisterBrokerResponse{}
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go
		msg := clusterAuthzMessage
		resp.ErrorCode, resp.ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		return resp, nil
	}
	if err := b.ctrl.UnregisterBroker(ctx, int32(req.BrokerID)); err != nil {
		code, msg := controllerErrorCode(err)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp, nil
	}
	b.syncImage()
	return resp, nil
}
