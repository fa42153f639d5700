package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// CreateTopics (key 19): versions 0-7.
//
// Behaviour:
//   - The controller validates and creates the topics (name, partitions,
//     replication factor or explicit assignments, configs) with Kafka's error
//     codes and messages; -1 takes num.partitions and
//     default.replication.factor. ValidateOnly checks without creating.
//   - A name given twice is answered once with INVALID_REQUEST and the rest
//     is created; __cluster_metadata is refused.
//   - The response waits until this broker's metadata image has the new
//     topics; TimeoutMs bounds the wait for the controller
//     (REQUEST_TIMED_OUT).
//   - v5+: each created topic's resolved configs come back, sensitive
//     values as null.
//   - Authorization (authz.go): CREATE on the cluster or on the topic
//     (TOPIC_AUTHORIZATION_FAILED "Authorization failed."); the configs in the
//     answer need DESCRIBE_CONFIGS on the topic (else TopicConfigErrorCode
//     TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: ValidateOnly, ErrorMessage. v4: NumPartitions and
//     ReplicationFactor may be -1 (KIP-464). v5: flexible, configs in the
//     response (KIP-525). v6: may answer THROTTLING_QUOTA_EXCEEDED
//     (KIP-599). v7: TopicID in the response.
//
// Where Spool differs from Kafka 4.3:
//   - Versions 0-1 are served (Kafka 4 dropped them).
//   - No controller mutation quota: never THROTTLING_QUOTA_EXCEEDED.

// clusterMetadataTopic is the name of KRaft's metadata log; Kafka refuses to
// create a topic with it.
const clusterMetadataTopic = "__cluster_metadata"

func (b *Broker) handleCreateTopics(ctx context.Context, rc *reqCtx, req *protocol.CreateTopicsRequest) (*protocol.CreateTopicsResponse, error) {
	ctx = rc.mutationQuota(ctx, 6) // controller_mutation_rate, strict from v6 (quotas.go)
	resp := &protocol.CreateTopicsResponse{}
	counts := map[protocol.TopicName]int{}
	for _, t := range req.Topics {
		counts[t.Name]++
	}
	// Kafka answers each duplicated name once, with INVALID_REQUEST, and
	// creates the other topics.
	var create []controller.CreateTopic
	var slots []int // index in resp.Topics of each create entry
	reported := map[protocol.TopicName]bool{}
	// CREATE on the cluster, or else on each topic (authz.go);
	// DESCRIBE_CONFIGS on a topic to see its configs in the answer.
	clusterCreate := b.authorizeCluster(rc, acl.OpCreate)
	for _, t := range req.Topics {
		res := protocol.CreateTopicsResponseCreatableTopicResult{Name: t.Name, NumPartitions: -1, ReplicationFactor: -1}
		switch {
		case counts[t.Name] > 1:
			if reported[t.Name] {
				continue
			}
			reported[t.Name] = true
			setTopicError(&res, errcode.InvalidRequest, "Duplicate topic name.")
		case t.Name == clusterMetadataTopic:
			setTopicError(&res, errcode.InvalidRequest, "Creation of internal topic "+clusterMetadataTopic+" is prohibited.")
		case !clusterCreate && !b.authorize(rc, acl.OpCreate, acl.ResourceTopic, string(t.Name)):
			setTopicError(&res, errcode.TopicAuthorizationFailed, "Authorization failed.")
		default:
			ct := controller.CreateTopic{Name: string(t.Name), NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
			if len(t.Assignments) > 0 {
				ct.Assignments = make(map[int32][]int32, len(t.Assignments))
				for _, a := range t.Assignments {
					replicas := make([]int32, len(a.BrokerIDs))
					for i, id := range a.BrokerIDs {
						replicas[i] = int32(id)
					}
					ct.Assignments[a.PartitionIndex] = replicas
				}
			}
			if len(t.Configs) > 0 {
				ct.Configs = make(map[string]*string, len(t.Configs))
				for _, c := range t.Configs {
					ct.Configs[c.Name] = c.Value
				}
			}
			create = append(create, ct)
			slots = append(slots, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, res)
	}

	if len(create) > 0 {
		if req.TimeoutMs > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
			defer cancel()
		}
		results := b.ctrl.CreateTopics(ctx, create, req.ValidateOnly)
		img := b.image.Load()
		if !req.ValidateOnly {
			img = b.syncImage()
		}
		dyn := b.dynamicBrokerConfig(img)
		for i, r := range results {
			res := &resp.Topics[slots[i]]
			if r.Err != nil {
				code, msg := controllerErrorCode(r.Err)
				setTopicError(res, code, msg)
				continue
			}
			res.TopicID = protocol.UUID(r.TopicID)
			res.NumPartitions = r.NumPartitions
			res.ReplicationFactor = r.ReplicationFactor
			overrides := make(map[string]string, len(create[i].Configs))
			for k, v := range create[i].Configs {
				overrides[k] = *v // non-nil: the controller refuses null values
			}
			if !b.authorize(rc, acl.OpDescribeConfigs, acl.ResourceTopic, r.Name) {
				res.TopicConfigErrorCode = errcode.TopicAuthorizationFailed
				continue
			}
			res.Configs = []protocol.CreateTopicsResponseCreatableTopicConfigs{}
			for _, e := range config.ResolveTopic(overrides, b.cfg, dyn) {
				value := e.Value
				if e.Sensitive {
					value = nil
				}
				res.Configs = append(res.Configs, protocol.CreateTopicsResponseCreatableTopicConfigs{
					Name: e.Name, Value: value, ReadOnly: e.ReadOnly, ConfigSource: int8(e.Source), IsSensitive: e.Sensitive,
				})
			}
		}
	}
	return resp, nil
}

func setTopicError(res *protocol.CreateTopicsResponseCreatableTopicResult, code int16, msg string) {
	res.ErrorCode, res.ErrorMessage = code, &msg
	res.NumPartitions, res.ReplicationFactor, res.Configs = -1, -1, nil
}
