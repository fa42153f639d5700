package server

import (
	"context"

	"fmt"
	"slices"
	"strconv"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeConfigs (key 32): versions 0-4.
//
// Behaviour:
//   - TOPIC: the topic's configs resolved as Kafka's ConfigHelper resolves
//     them (topic override, dynamic per-broker and cluster-default broker
//     configs, static broker config, default), each with its source;
//     unknown topics are UNKNOWN_TOPIC_OR_PARTITION.
//   - BROKER: this broker's configs; an empty name is the cluster default
//     entity and lists only what is set on it. Another broker's id is
//     INVALID_REQUEST.
//   - CLIENT_METRICS: interval.ms, match and metrics, each as set (source
//     CLIENT_METRICS_CONFIG) or its default (DEFAULT_CONFIG: 300000, empty
//     lists), also for an unknown name, as Kafka 4.3; an empty name is
//     INVALID_REQUEST.
//   - ConfigurationKeys restricts the answer; sensitive values are null.
//   - Authorization (authz.go): DESCRIBE_CONFIGS on the cluster (brokers), the
//     topic or the group; refusals (CLUSTER/TOPIC/GROUP_AUTHORIZATION_FAILED)
//     come after the other resources.
//
// Version notes:
//   - v1: IncludeSynonyms, ConfigSource (v0 has IsDefault). v3:
//     IncludeDocumentation and ConfigType. v4: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - v0 is served (Kafka 4 dropped it).
//   - BROKER_LOGGER lists no loggers (Spool has no log4j). GROUP lists
//     the group configs Spool follows (config/group.go), each
//     GROUP_CONFIG when set, else its broker default.

// Config resource types (Kafka's ConfigResource.Type).
const (
	resourceTopic         = int8(controller.ResourceTopic)  // 2
	resourceBroker        = int8(controller.ResourceBroker) // 4
	resourceBrokerLogger  = int8(8)
	resourceClientMetrics = int8(16)
	resourceGroup         = int8(32)
)

// configError is a per-resource failure of a config request.
type configError struct {
	code int16
	msg  string
}

func (e *configError) Error() string { return e.msg }

func (b *Broker) handleDescribeConfigs(ctx context.Context, rc *reqCtx, req *protocol.DescribeConfigsRequest) (*protocol.DescribeConfigsResponse, error) {
	resp := &protocol.DescribeConfigsResponse{}
	img := b.image.Load()
	// DESCRIBE_CONFIGS per resource (authz.go); refusals come after the
	// rest, with Kafka's default message and no configs.
	var denied []protocol.DescribeConfigsResponseDescribeConfigsResult
	for _, r := range req.Resources {
		res := protocol.DescribeConfigsResponseDescribeConfigsResult{ResourceType: r.ResourceType, ResourceName: r.ResourceName}
		if code := b.authorizeConfigResource(rc, acl.OpDescribeConfigs, r.ResourceType, r.ResourceName); code != 0 {
			msg := errcode.Message(code)
			res.ErrorCode, res.ErrorMessage, res.Configs = code, &msg, []protocol.DescribeConfigsResponseDescribeConfigsResourceResult{}
			denied = append(denied, res)
			continue
		}
		entries, cerr := b.describeResource(img, r.ResourceType, r.ResourceName)
		if cerr != nil {
			res.ErrorCode, res.ErrorMessage = cerr.code, &cerr.msg
			resp.Results = append(resp.Results, res)
			continue
		}
		res.Configs = []protocol.DescribeConfigsResponseDescribeConfigsResourceResult{}
		for _, e := range entries {
			if r.ConfigurationKeys != nil && !slices.Contains(r.ConfigurationKeys, e.Name) {
				continue
			}
			res.Configs = append(res.Configs, describeEntry(e, rc.v, req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Results = append(resp.Results, res)
	}
	resp.Results = append(resp.Results, denied...)
	return resp, nil
}

// describeResource resolves the configs of one resource the way Kafka's
// ConfigHelper does.
func (b *Broker) describeResource(img *controller.MetadataImage, typ int8, name string) ([]config.Entry, *configError) {
	switch typ {
	case resourceTopic:
		if err := controller.ValidateTopicName(name); err != nil {
			code, msg := controllerErrorCode(err)
			return nil, &configError{code, msg}
		}
		if img.Topic(name) == nil {
			return nil, &configError{errcode.UnknownTopicOrPartition, errcode.Message(errcode.UnknownTopicOrPartition)}
		}
		return config.ResolveTopic(img.Config(controller.ResourceTopic, name), b.cfg, b.dynamicBrokerConfig(img)), nil
	case resourceBroker:
		if name == "" {
			// The cluster default entity lists only what is set on it.
			cd := img.Config(controller.ResourceBroker, "")
			var out []config.Entry
			for _, e := range config.ResolveBroker(b.cfg, config.Dynamic{ClusterDefault: cd}) {
				if _, ok := cd[e.Name]; ok {
					out = append(out, e)
				}
			}
			return out, nil
		}
		if cerr := b.checkOwnBrokerID(name); cerr != nil {
			return nil, cerr
		}
		return config.ResolveBroker(b.cfg, b.dynamicBrokerConfig(img)), nil
	case resourceGroup:
		if name == "" {
			return nil, &configError{errcode.InvalidRequest, "Group name must not be empty."}
		}
		return config.ResolveGroup(img.Config(controller.ResourceGroup, name), b.cfg), nil
	case resourceBrokerLogger:
		if name == "" {
			return nil, &configError{errcode.InvalidRequest, "Broker id must not be empty"}
		}
		if cerr := b.checkOwnBrokerID(name); cerr != nil {
			return nil, cerr
		}
		return b.brokerLoggers(), nil
	case resourceClientMetrics:
		// Every client-metrics config, by name, as Kafka 4.3: the value
		// set (CLIENT_METRICS_CONFIG) or the default (DEFAULT_CONFIG),
		// also for a subscription that does not exist.
		if name == "" {
			return nil, &configError{errcode.InvalidRequest, "Client metrics subscription name must not be empty"}
		}
		cfg := img.Config(controller.ResourceClientMetrics, name)
		var out []config.Entry
		for _, k := range []string{telemetry.ConfigIntervalMs, telemetry.ConfigMatch, telemetry.ConfigMetrics} {
			e := config.Entry{Name: k, Source: config.SourceDefault, Type: config.TypeList}
			if k == telemetry.ConfigIntervalMs {
				e.Type = config.TypeInt
			}
			v, ok := cfg[k]
			switch {
			case ok:
				e.Source = config.SourceClientMetrics
			case k == telemetry.ConfigIntervalMs:
				v = strconv.Itoa(telemetry.DefaultIntervalMs)
			}
			e.Value = &v
			out = append(out, e)
		}
		return out, nil
	default:
		return nil, &configError{errcode.InvalidRequest, fmt.Sprintf("Unsupported resource type: %s", resourceTypeName(typ))}
	}
}

// checkOwnBrokerID accepts only this broker's ID, as a Kafka broker
// describes only itself.
func (b *Broker) checkOwnBrokerID(name string) *configError {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return &configError{errcode.InvalidRequest, "Broker id must be an integer, but it is: " + name}
	}
	if int32(id) != b.nodeID {
		return &configError{errcode.InvalidRequest,
			fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", b.nodeID, name)}
	}
	return nil
}

func resourceTypeName(typ int8) string {
	switch typ {
	case resourceTopic:
		return "TOPIC"
	case resourceBroker:
		return "BROKER"
	case resourceBrokerLogger:
		return "BROKER_LOGGER"
	case resourceClientMetrics:
		return "CLIENT_METRICS"
	case resourceGroup:
		return "GROUP"
	}
	return "UNKNOWN"
}

func describeEntry(e config.Entry, v int16, synonyms, docs bool) protocol.DescribeConfigsResponseDescribeConfigsResourceResult {
	out := protocol.DescribeConfigsResponseDescribeConfigsResourceResult{
		Name:         e.Name,
		Value:        e.Value,
		ReadOnly:     e.ReadOnly,
		IsDefault:    e.Source == config.SourceDefault, // v0 only
		ConfigSource: int8(e.Source),
		IsSensitive:  e.Sensitive,
		ConfigType:   int8(e.Type),
		Synonyms:     []protocol.DescribeConfigsResponseDescribeConfigsSynonym{},
	}
	if e.Sensitive {
		out.Value = nil
	}
	if synonyms && v >= 1 {
		for _, s := range e.Synonyms {
			value := s.Value
			if e.Sensitive {
				value = nil
			}
			out.Synonyms = append(out.Synonyms, protocol.DescribeConfigsResponseDescribeConfigsSynonym{Name: s.Name, Value: value, Source: int8(s.Source)})
		}
	}
	if docs && e.Doc != "" {
		doc := e.Doc
		out.Documentation = &doc
	}
	return out
}
