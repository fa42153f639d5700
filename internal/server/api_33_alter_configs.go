package server

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AlterConfigs (key 33): versions 0-2.
//
// Behaviour:
//   - The legacy, non-incremental call: each TOPIC or BROKER resource's
//     dynamic configs are replaced as a whole by the request's, validated by
//     the controller with Kafka's errors; ValidateOnly checks only. A null
//     value is INVALID_REQUEST, and so is any other resource type.
//   - The response waits until this broker's image has the change.
//   - Authorization (authz.go): ALTER_CONFIGS on the cluster (brokers), the
//     topic or the group; refusals come after the other resources, without a
//     message.
//
// Version notes:
//   - v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Resource types other than TOPIC and BROKER (GROUP, CLIENT_METRICS,
//     BROKER_LOGGER, unknown ids) are INVALID_REQUEST "Unsupported
//     resource type" after authorization. Kafka's ControllerApis answers
//     an unknown type UNSUPPORTED_VERSION ("Unknown resource type N.")
//     before authorization and hands the known ones to the controller;
//     what it answers for GROUP and CLIENT_METRICS was not compared.
//   - A resource named twice is applied twice; Kafka answers
//     INVALID_REQUEST "Duplicate resource." for it.

// handleAlterConfigs is the legacy AlterConfigs: each resource's dynamic
// config is replaced as a whole by the request's.
func (b *Broker) handleAlterConfigs(ctx context.Context, rc *reqCtx, req *protocol.AlterConfigsRequest) (*protocol.AlterConfigsResponse, error) {
	resp := &protocol.AlterConfigsResponse{}
	changed := false
	// ALTER_CONFIGS per resource (authz.go); refusals come after the rest,
	// without a message, as Kafka's controller answers them.
	var denied []protocol.AlterConfigsResponseAlterConfigsResourceResponse
	for _, r := range req.Resources {
		res := protocol.AlterConfigsResponseAlterConfigsResourceResponse{ResourceType: r.ResourceType, ResourceName: r.ResourceName}
		if code := b.authorizeConfigResource(rc, acl.OpAlterConfigs, r.ResourceType, r.ResourceName); code != 0 {
			res.ErrorCode = code
			denied = append(denied, res)
			continue
		}
		if cerr := b.replaceConfigs(ctx, &r, req.ValidateOnly); cerr != nil {
			res.ErrorCode, res.ErrorMessage = cerr.code, &cerr.msg
		} else if !req.ValidateOnly {
			changed = true
		}
		resp.Responses = append(resp.Responses, res)
	}
	resp.Responses = append(resp.Responses, denied...)
	if changed {
		b.syncImage()
	}
	return resp, nil
}

func (b *Broker) replaceConfigs(ctx context.Context, r *protocol.AlterConfigsRequestAlterConfigsResource, validateOnly bool) *configError {
	if r.ResourceType != resourceTopic && r.ResourceType != resourceBroker {
		return &configError{errcode.InvalidRequest, fmt.Sprintf("Unsupported resource type: %s", resourceTypeName(r.ResourceType))}
	}
	configs := make(map[string]string, len(r.Configs))
	for _, c := range r.Configs {
		if c.Value == nil {
			return &configError{errcode.InvalidRequest, "Null value not supported for : " + c.Name}
		}
		configs[c.Name] = *c.Value
	}
	if cerr := checkClusterDefault(r.ResourceType, r.ResourceName, slices.Collect(maps.Keys(configs))); cerr != nil {
		return cerr
	}
	if cerr := b.checkCordonedLogDirs(r.ResourceType, r.ResourceName, cordonedAfterReplace(configs)); cerr != nil {
		return cerr
	}
	if err := b.ctrl.ReplaceConfigs(ctx, r.ResourceType, r.ResourceName, configs, validateOnly); err != nil {
		code, msg := controllerErrorCode(err)
		return &configError{code, msg}
	}
	return nil
}
