package server

import (
	"context"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeCluster (key 60): versions 0-2.
//
// Behaviour:
//   - The cluster id, the controller id as Metadata reports it, and the
//     brokers with their endpoint on the listener the request came in on.
//   - v1+: only EndpointType BROKER (1) is answered here: CONTROLLER (2) is
//     MISMATCHED_ENDPOINT_TYPE (the controller listener answers it, see
//     controller/voters.go), anything else UNSUPPORTED_ENDPOINT_TYPE.
//   - Authorized operations, when asked for, come from the authorizer, and
//     are 0 without DESCRIBE on the cluster (Kafka checks nothing else here).
//
// Version notes:
//   - v1: EndpointType (KIP-919). v2: IncludeFencedBrokers and IsFenced
//     (KIP-1073).
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the versions served is read and
//     answered.

// DescribeCluster endpoint types (v1+).
const (
	endpointTypeBroker     = 1
	endpointTypeController = 2
)

func (b *Broker) handleDescribeCluster(ctx context.Context, rc *reqCtx, req *protocol.DescribeClusterRequest) (*protocol.DescribeClusterResponse, error) {
	img := b.image.Load()
	resp := &protocol.DescribeClusterResponse{
		EndpointType:                req.EndpointType,
		ClusterID:                   img.ClusterID(),
		ControllerID:                protocol.BrokerID(b.controllerIDForClients()),
		ClusterAuthorizedOperations: notRequestedOps,
		Brokers:                     []protocol.DescribeClusterResponseDescribeClusterBroker{},
	}
	if rc.v >= 1 && req.EndpointType != endpointTypeBroker {
		// As Kafka's AuthHelper.computeDescribeClusterResponse: controllers
		// answer CONTROLLER requests on their own listener.
		msg := fmt.Sprintf("Unsupported endpoint type %d", req.EndpointType)
		resp.ErrorCode, resp.ErrorMessage = errcode.UnsupportedEndpointType, &msg
		if req.EndpointType == endpointTypeController {
			msg = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
			resp.ErrorCode = errcode.MismatchedEndpointType
		}
		return resp, nil
	}
	if req.IncludeClusterAuthorizedOperations {
		// Kafka answers without a check; the operations need DESCRIBE.
		resp.ClusterAuthorizedOperations = b.authorizedOperationsIfDescribed(rc, acl.ResourceCluster, acl.ClusterName)
	}
	for _, br := range img.Brokers() {
		if br.Fenced && !req.IncludeFencedBrokers {
			continue
		}
		ep, ok := br.Endpoint(rc.c.listener)
		if !ok {
			continue
		}
		resp.Brokers = append(resp.Brokers, protocol.DescribeClusterResponseDescribeClusterBroker{
			BrokerID: protocol.BrokerID(br.ID), Host: ep.Host, Port: int32(ep.Port), Rack: br.Rack, IsFenced: br.Fenced,
		})
	}
	return resp, nil
}
