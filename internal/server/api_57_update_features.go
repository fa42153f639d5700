package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// UpdateFeatures (key 57): versions 0-2.
//
// Behaviour:
//   - Forwarded to the active controller (kafka-features.sh upgrade,
//     downgrade, disable), which finalizes the levels atomically as Kafka's
//     FeatureControlManager: each level must be supported by the
//     controller and every registered broker (controller.SupportedFeatures);
//     a lower level needs a downgrade type, a higher one must not have one;
//     metadata.version is never downgraded. The first refused update
//     refuses all: INVALID_UPDATE_VERSION with Kafka's message ("The update
//     failed for all features since the following feature had an error:
//     ...") and no per-feature results.
//   - validate_only checks without writing.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v0 has AllowDowngrade (a safe downgrade). v1 (KIP-778): UpgradeType
//     and ValidateOnly. v2 answers a success without per-feature results.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the versions served is read and
//     answered.
func (b *Broker) handleUpdateFeatures(ctx context.Context, rc *reqCtx, req *protocol.UpdateFeaturesRequest) (*protocol.UpdateFeaturesResponse, error) {
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go
		msg := clusterAuthzMessage
		return &protocol.UpdateFeaturesResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg,
			Results: []protocol.UpdateFeaturesResponseUpdatableFeatureResult{}}, nil
	}
	err := b.ctrl.UpdateFeatures(ctx, controller.FeatureUpdatesFromRequest(req, rc.v), req.ValidateOnly)
	if err == nil && !req.ValidateOnly {
		b.syncImage()
	}
	return controller.UpdateFeaturesResponse(req, rc.v, err), nil
}
