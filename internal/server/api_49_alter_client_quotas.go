package server

import (
	"context"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// handleAlterClientQuotas writes the alterations through the controller
// (Kafka forwards AlterClientQuotas to the active controller) and answers
// one entry per distinct entity. The broker's quotas follow the new image
// before the response goes out.
func (b *Broker) handleAlterClientQuotas(ctx context.Context, rc *reqCtx, req *protocol.AlterClientQuotasRequest) (*protocol.AlterClientQuotasResponse, error) {
	results := b.ctrl.AlterClientQuotas(ctx, controller.AlterClientQuotasFromRequest(req), req.ValidateOnly)
	if !req.ValidateOnly {
		rc.c.s.quotas.follow(b.syncImage())
	}
	resp := controller.AlterClientQuotasResponse(results)
	return resp, nil
}
