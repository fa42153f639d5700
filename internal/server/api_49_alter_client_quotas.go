package server

import (
	"context"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol/errcode"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// AlterClientQuotas (key 49): versions 0-1.
//
// Behaviour:
//   - Writes the alterations through the active controller (forwarded when
//     this node is not it) as ClientQuotaRecords in the metadata log, with
//     Kafka's validation and messages per entity; validate_only checks
//     without writing. The broker's quotas follow the new image before the
//     response goes out.
//   - Authorization (authz.go): ALTER_CONFIGS on the cluster; denied, every
//     entity gets CLUSTER_AUTHORIZATION_FAILED, as Kafka.
//
// Version notes:
//   - v1: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the versions served is read and
//     answered.

// handleAlterClientQuotas writes the alterations through the controller
// (Kafka forwards AlterClientQuotas to the active controller) and answers
// one entry per distinct entity. The broker's quotas follow the new image
// before the response goes out.
func (b *Broker) handleAlterClientQuotas(ctx context.Context, rc *reqCtx, req *protocol.AlterClientQuotasRequest) (*protocol.AlterClientQuotasResponse, error) {
	alts := controller.QuotaAlterationsFromRequest(req)
	if !b.authorize(rc, acl.OpAlterConfigs, acl.ResourceCluster, acl.ClusterName) {
		results := make([]controller.QuotaAlterationResult, len(alts))
		for i, a := range alts {
			results[i] = controller.QuotaAlterationResult{Entity: a.Entity}
		}
		resp := controller.AlterClientQuotasResponse(results)
		msg := errcode.Message(errcode.ClusterAuthorizationFailed)
		for i := range resp.Entries {
			resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		}
		return resp, nil
	}
	results := b.ctrl.AlterClientQuotas(ctx, alts, req.ValidateOnly)
	if !req.ValidateOnly {
		rc.c.s.quotas.follow(b.syncImage())
	}
	return controller.AlterClientQuotasResponse(results), nil
}
