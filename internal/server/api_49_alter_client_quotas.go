package server

import (
	"context"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// AlterClientQuotas (key 49): versions 0-1.
//
// Behaviour:
//   - Forwarded to the active controller, which validates each entity as
//     Kafka's ClientQuotaControlManager does (entity types and names, their
//     combination, keys and values, with Kafka's messages) and writes the
//     valid ones' ClientQuotaRecords in one metadata batch; one entry per
//     distinct entity. ValidateOnly checks only.
//   - The response waits until this broker's image, and its quota
//     enforcement, have the change.
//
// Version notes:
//   - v1: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Not authorized yet (Kafka: ALTER_CONFIGS on the cluster).

func (b *Broker) handleAlterClientQuotas(ctx context.Context, rc *reqCtx, req *protocol.AlterClientQuotasRequest) (*protocol.AlterClientQuotasResponse, error) {
	results := b.ctrl.AlterClientQuotas(ctx, controller.AlterClientQuotasFromRequest(req), req.ValidateOnly)
	if !req.ValidateOnly {
		rc.c.s.quotas.follow(b.syncImage())
	}
	resp := controller.AlterClientQuotasResponse(results)
	return resp, nil
}
