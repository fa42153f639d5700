package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// StreamsGroupTopologyDescriptionUpdate (key 93): version 0.
//
// Behaviour:
//   - Kafka 4.4, KIP-1331: a member pushes its topology description for a
//     broker-side topology description plugin. Spool has no such plugin,
//     and answers as Kafka 4.4.0 does when none is configured:
//     UNSUPPORTED_VERSION with Kafka's message, whatever the group and
//     member (StreamsGroupHeartbeat v1 never asks for a description, so
//     clients do not send one).
//   - Advertised, as by Kafka 4.4.0, when group.coordinator.rebalance.protocols
//     includes "streams".
//
// Where Spool differs from Kafka 4.3:
//   - Kafka 4.3.1 has no key 93; Spool serves it as Kafka 4.4.0 does.
//     The request's fields are not read (the answer never depends on
//     them).

// noTopologyDescriptionPlugin is Kafka 4.4.0's message for the update when
// no topology description plugin is configured.
const noTopologyDescriptionPlugin = "The broker has no streams group topology description plugin configured."

func (gh *groupHandlers) handleStreamsGroupTopologyDescriptionUpdate(_ context.Context, _ *reqCtx, _ *protocol.StreamsGroupTopologyDescriptionUpdateRequest) (*protocol.StreamsGroupTopologyDescriptionUpdateResponse, error) {
	msg := noTopologyDescriptionPlugin
	return &protocol.StreamsGroupTopologyDescriptionUpdateResponse{ErrorCode: errcode.UnsupportedVersion, ErrorMessage: &msg}, nil
}
