package server

import (
	"context"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol/errcode"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// DescribeClientQuotas (key 48): versions 0-1.
//
// Behaviour:
//   - Answers from the broker's metadata image, as Kafka's brokers do
//     (ClientQuotasImage.describe): entities matching the filter's
//     components (exact name, default entity, any), strict or not, with
//     their quota values; an invalid filter is a top-level error with no
//     entries.
//   - Authorization (authz.go): DESCRIBE_CONFIGS on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED), as Kafka.
//
// Version notes:
//   - v1: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the versions served is read and
//     answered.

// handleDescribeClientQuotas answers from the broker's metadata image, as
// Kafka's brokers do (ClientQuotasImage.describe). An invalid filter is a
// top-level error with no entries.
func (b *Broker) handleDescribeClientQuotas(ctx context.Context, rc *reqCtx, req *protocol.DescribeClientQuotasRequest) (*protocol.DescribeClientQuotasResponse, error) {
	resp := &protocol.DescribeClientQuotasResponse{}
	if !b.authorize(rc, acl.OpDescribeConfigs, acl.ResourceCluster, acl.ClusterName) {
		msg := errcode.Message(errcode.ClusterAuthorizationFailed)
		resp.ErrorCode, resp.ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		return resp, nil
	}
	filter := make([]controller.QuotaFilterComponent, len(req.Components))
	for i, c := range req.Components {
		filter[i] = controller.QuotaFilterComponent{EntityType: c.EntityType, MatchType: c.MatchType, Match: c.Match}
	}
	entries, err := b.image.Load().DescribeClientQuotas(filter, req.Strict)
	if err != nil {
		code, msg := controllerErrorCode(err)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp, nil
	}
	resp.Entries = make([]protocol.DescribeClientQuotasResponseEntryData, len(entries))
	for i, e := range entries {
		out := &resp.Entries[i]
		for _, d := range e.Entity {
			out.Entity = append(out.Entity, protocol.DescribeClientQuotasResponseEntityData{EntityType: d.EntityType, EntityName: d.EntityName})
		}
		for _, k := range controller.QuotaKeysInKafkaOrder(e.Values) {
			out.Values = append(out.Values, protocol.DescribeClientQuotasResponseValueData{Key: k, Value: e.Values[k]})
		}
	}
	return resp, nil
}
