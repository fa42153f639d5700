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
	alts := make([]controller.QuotaAlteration, len(req.Entries))
	for i, e := range req.Entries {
		a := &alts[i]
		for _, d := range e.Entity {
			a.Entity = append(a.Entity, controller.QuotaEntityData{EntityType: d.EntityType, EntityName: d.EntityName})
		}
		for _, op := range e.Ops {
			o := controller.QuotaOp{Key: op.Key}
			if !op.Remove {
				v := op.Value
				o.Value = &v
			}
			a.Ops = append(a.Ops, o)
		}
	}
	results := b.ctrl.AlterClientQuotas(ctx, alts, req.ValidateOnly)
	if !req.ValidateOnly {
		rc.c.s.quotas.follow(b.syncImage())
	}
	resp := &protocol.AlterClientQuotasResponse{Entries: make([]protocol.AlterClientQuotasResponseEntryData, len(results))}
	for i, r := range results {
		out := &resp.Entries[i]
		out.Entity = make([]protocol.AlterClientQuotasResponseEntityData, len(r.Entity))
		for j, d := range r.Entity {
			out.Entity[j] = protocol.AlterClientQuotasResponseEntityData{EntityType: d.EntityType, EntityName: d.EntityName}
		}
		if r.Err != nil {
			code, msg := controllerErrorCode(r.Err)
			out.ErrorCode, out.ErrorMessage = code, &msg
			b.metrics.errors.WithLabelValues("AlterClientQuotas", errName(code)).Inc()
		}
	}
	return resp, nil
}
