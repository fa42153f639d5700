package server

import (
	"context"

	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// IncrementalAlterConfigs (key 44): versions 0-1.
//
// Behaviour:
//   - SET, DELETE, APPEND and SUBTRACT operations on TOPIC, BROKER and
//     CLIENT_METRICS resources (kafka-client-metrics.sh --alter/--delete;
//     the subscription is gone when its last config is deleted), validated and applied by the controller with Kafka's
//     errors; APPEND and SUBTRACT only on LIST configs (INVALID_CONFIG).
//     ValidateOnly checks only. The response waits until this broker's
//     image has the change.
//   - Authorization (authz.go): ALTER_CONFIGS on the cluster (brokers), the
//     topic or the group; refusals come after the other resources.
//
// Version notes:
//   - v1: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - BROKER_LOGGER takes no changes (Spool has no log4j loggers:
//     INVALID_CONFIG naming the logger). GROUP configs (Kafka's
//     GroupConfig: consumer.*, share.* such as share.auto.offset.reset)
//     are kept in the metadata log like topic configs.

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, rc *reqCtx, req *protocol.IncrementalAlterConfigsRequest) (*protocol.IncrementalAlterConfigsResponse, error) {
	resp := &protocol.IncrementalAlterConfigsResponse{}
	changed := false
	// ALTER_CONFIGS per resource (authz.go), as AlterConfigs.
	var denied []protocol.IncrementalAlterConfigsResponseAlterConfigsResourceResponse
	for _, r := range req.Resources {
		res := protocol.IncrementalAlterConfigsResponseAlterConfigsResourceResponse{ResourceType: r.ResourceType, ResourceName: r.ResourceName}
		if code := b.authorizeConfigResource(rc, acl.OpAlterConfigs, r.ResourceType, r.ResourceName); code != 0 {
			res.ErrorCode = code
			denied = append(denied, res)
			continue
		}
		if cerr := b.incrementalAlterConfigs(ctx, &r, req.ValidateOnly); cerr != nil {
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

func (b *Broker) incrementalAlterConfigs(ctx context.Context, r *protocol.IncrementalAlterConfigsRequestAlterConfigsResource, validateOnly bool) *configError {
	switch r.ResourceType {
	case resourceTopic, resourceBroker, resourceGroup:
	case resourceClientMetrics:
		// Only SET and DELETE apply: Kafka 4.3 refuses APPEND and
		// SUBTRACT on every client-metrics key, its LIST ones included.
		// The merged configs are validated as Kafka's
		// ClientMetricsConfigs (node.validateResourceConfig).
		ops := make([]controller.ConfigOp, len(r.Configs))
		for i, c := range r.Configs {
			op := controller.ConfigOpType(c.ConfigOperation)
			if op == controller.ConfigAppend || op == controller.ConfigSubtract {
				verb := "APPEND"
				if op == controller.ConfigSubtract {
					verb = "SUBTRACT"
				}
				return &configError{errcode.InvalidConfig, fmt.Sprintf("Can't %s to key %s because its type is not LIST.", verb, c.Name)}
			}
			ops[i] = controller.ConfigOp{Key: c.Name, Value: c.Value, Op: op}
		}
		if err := b.ctrl.AlterConfigs(ctx, r.ResourceType, r.ResourceName, ops, validateOnly); err != nil {
			code, msg := controllerErrorCode(err)
			return &configError{code, msg}
		}
		return nil
	case resourceBrokerLogger:
		if cerr := b.checkOwnBrokerID(r.ResourceName); cerr != nil {
			return cerr
		}
		return b.alterBrokerLoggers(r, validateOnly)
	default:
		return &configError{errcode.InvalidRequest, fmt.Sprintf("Unsupported resource type: %s", resourceTypeName(r.ResourceType))}
	}
	var brokerTypes map[string]config.ConfigType
	ops := make([]controller.ConfigOp, len(r.Configs))
	for i, c := range r.Configs {
		op := controller.ConfigOpType(c.ConfigOperation)
		if op == controller.ConfigAppend || op == controller.ConfigSubtract {
			// Only LIST configs can be appended to or subtracted from.
			var typ config.ConfigType
			if r.ResourceType == resourceTopic {
				d, _ := config.LookupTopicConfig(c.Name)
				typ = d.Type
			} else if r.ResourceType == resourceGroup {
				d, _ := config.LookupGroupConfig(c.Name)
				typ = d.Type
			} else {
				if brokerTypes == nil {
					brokerTypes = map[string]config.ConfigType{}
					for _, e := range config.ResolveBroker(b.cfg, config.Dynamic{}) {
						brokerTypes[e.Name] = e.Type
					}
				}
				typ = brokerTypes[c.Name]
			}
			if typ != config.TypeList {
				verb := "APPEND"
				if op == controller.ConfigSubtract {
					verb = "SUBTRACT"
				}
				return &configError{errcode.InvalidConfig, fmt.Sprintf("Can't %s to key %s because its type is not LIST.", verb, c.Name)}
			}
		}
		ops[i] = controller.ConfigOp{Key: c.Name, Value: c.Value, Op: op}
	}
	var setKeys []string
	for _, op := range ops {
		if op.Op != controller.ConfigDelete {
			setKeys = append(setKeys, op.Key)
		}
	}
	if cerr := checkClusterDefault(r.ResourceType, r.ResourceName, setKeys); cerr != nil {
		return cerr
	}
	if cerr := b.checkCordonedLogDirs(r.ResourceType, r.ResourceName, cordonedAfterOps(ops)); cerr != nil {
		return cerr
	}
	if err := b.ctrl.AlterConfigs(ctx, r.ResourceType, r.ResourceName, ops, validateOnly); err != nil {
		code, msg := controllerErrorCode(err)
		return &configError{code, msg}
	}
	return nil
}
