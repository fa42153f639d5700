package server

import (
	"context"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

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
		// Clients reach brokers here; controllers are not exposed to them.
		msg := fmt.Sprintf("The broker does not support endpoint type %d", req.EndpointType)
		resp.ErrorCode, resp.ErrorMessage = errcode.UnsupportedEndpointType, &msg
		b.metrics.errors.WithLabelValues("DescribeCluster", errName(resp.ErrorCode)).Inc()
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
