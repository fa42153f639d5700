package server

import (
	"context"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// DescribeClientQuotas (key 48): versions 0-1.
//
// Behaviour:
//   - Answered from this broker's metadata image, as Kafka's brokers do
//     (ClientQuotasImage.describe): every filter component must match
//     (exact name, the default, or any entity of the type, the default
//     included); with strict, the entity has no other components.
//   - An invalid filter (empty or repeated type, a match string where none
//     belongs or none where one does, ip with user or client-id) is a
//     top-level INVALID_REQUEST with Kafka's message and no entries; an
//     entity type Kafka does not know is UNSUPPORTED_VERSION.
//   - Entries and their values come in the order Kafka's HashMaps give
//     them, so kafka-configs.sh prints describes as it does against Kafka.
//
// Version notes:
//   - v1: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Not authorized yet (Kafka: DESCRIBE_CONFIGS on the cluster).

func (b *Broker) handleDescribeClientQuotas(ctx context.Context, rc *reqCtx, req *protocol.DescribeClientQuotasRequest) (*protocol.DescribeClientQuotasResponse, error) {
	resp := &protocol.DescribeClientQuotasResponse{}
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
