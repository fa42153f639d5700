package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
)

// The controller RPCs: Kafka's own request and response types, translated
// to and from this package's calls. The translations below are used both
// ways: by HandleRPC on the controller listener, and by the Router when it
// forwards a call, so a forwarded call and a local one behave the same.

// rpcKeys are the API keys the controller listener serves, as Kafka 4
// controllers do (the admin APIs for --bootstrap-controller, the broker
// lifecycle and the metadata quorum).
var rpcKeys = []int16{
	protocol.KeyApiVersions,
	protocol.KeyCreateTopics, protocol.KeyDeleteTopics, protocol.KeyCreatePartitions,
	protocol.KeyAlterConfigs, protocol.KeyIncrementalAlterConfigs,
	protocol.KeyElectLeaders, protocol.KeyAlterPartitionReassignments,
	protocol.KeyBrokerRegistration, protocol.KeyBrokerHeartbeat, protocol.KeyUnregisterBroker,
	protocol.KeyAllocateProducerIds, protocol.KeyAlterPartition, protocol.KeyAssignReplicasToDirs,
	protocol.KeyFetch, protocol.KeyFetchSnapshot, protocol.KeyDescribeQuorum,
	protocol.KeyAlterClientQuotas, protocol.KeyUpdateFeatures,
	protocol.KeyCreateAcls, protocol.KeyDeleteAcls, protocol.KeyAlterUserScramCredentials,
	protocol.KeyDescribeCluster, protocol.KeyAddRaftVoter, protocol.KeyRemoveRaftVoter, protocol.KeyUpdateRaftVoter,
	protocol.KeyEnvelope, // the delegation token writes (envelope.go)
}

// producerIDBlock is how many producer IDs one AllocateProducerIds
// reserves (Kafka's ProducerIdManager block size).
const producerIDBlock = 1000

// Serves reports whether the controller listener serves key at version v.
func Serves(key, v int16) bool {
	for _, k := range rpcKeys {
		if k == key {
			api := protocol.LookupAPI(key)
			return api != nil && v >= api.MinVersion && v <= api.MaxStableVersion()
		}
	}
	return false
}

// HandleRPC answers one controller RPC. It returns nil for a request the
// controller listener does not serve (check Serves first); errors of a
// single request go into the response's error codes.
func (c *Controller) HandleRPC(ctx context.Context, hdr *protocol.RequestHeader, req protocol.Request) protocol.Response {
	v := hdr.RequestAPIVersion
	switch r := req.(type) {
	case *protocol.ApiVersionsRequest:
		return c.apiVersionsResponse()
	case *protocol.DescribeClusterRequest:
		return c.handleDescribeCluster(v, r)
	case *protocol.AddRaftVoterRequest:
		return c.handleAddRaftVoter(ctx, r)
	case *protocol.RemoveRaftVoterRequest:
		return c.handleRemoveRaftVoter(ctx, r)
	case *protocol.UpdateRaftVoterRequest:
		return c.handleUpdateRaftVoter(r)
	case *protocol.EnvelopeRequest:
		return c.handleEnvelope(ctx, r)
	case *protocol.CreateAclsRequest:
		results, err := c.CreateACLs(ctx, bindingsFromCreateAcls(r))
		return createAclsResponse(results, err, len(r.Creations))
	case *protocol.DeleteAclsRequest:
		results, err := c.DeleteACLs(ctx, filtersFromDeleteAcls(r))
		return deleteAclsResponse(results, err, len(r.Filters))
	case *protocol.AlterUserScramCredentialsRequest:
		dels, ups := scramOpsFromRequest(r)
		results, err := c.AlterUserScramCredentials(ctx, dels, ups)
		return alterScramResponse(results, err, r)
	case *protocol.CreateTopicsRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		topics := createTopicsFromRequest(r)
		return createTopicsResponse(c.CreateTopics(ctx, topics, r.ValidateOnly))
	case *protocol.DeleteTopicsRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		return deleteTopicsResponse(c.DeleteTopics(ctx, deleteTopicsFromRequest(r)))
	case *protocol.CreatePartitionsRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		resp := &protocol.CreatePartitionsResponse{}
		for _, t := range r.Topics {
			var assignments [][]int32
			if t.Assignments != nil {
				for _, a := range t.Assignments {
					assignments = append(assignments, int32s(a.BrokerIDs))
				}
			}
			err := c.CreatePartitions(ctx, string(t.Name), t.Count, assignments, r.ValidateOnly)
			res := protocol.CreatePartitionsResponseCreatePartitionsTopicResult{Name: t.Name}
			res.ErrorCode, res.ErrorMessage = errorFields(err)
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *protocol.IncrementalAlterConfigsRequest:
		resp := &protocol.IncrementalAlterConfigsResponse{}
		for _, res := range r.Resources {
			ops := make([]ConfigOp, len(res.Configs))
			for i, cfg := range res.Configs {
				ops[i] = ConfigOp{Key: cfg.Name, Value: cfg.Value, Op: ConfigOpType(cfg.ConfigOperation)}
			}
			err := c.AlterConfigs(ctx, res.ResourceType, res.ResourceName, ops, r.ValidateOnly)
			out := protocol.IncrementalAlterConfigsResponseAlterConfigsResourceResponse{ResourceType: res.ResourceType, ResourceName: res.ResourceName}
			out.ErrorCode, out.ErrorMessage = errorFields(err)
			resp.Responses = append(resp.Responses, out)
		}
		return resp
	case *protocol.AlterConfigsRequest:
		resp := &protocol.AlterConfigsResponse{}
		for _, res := range r.Resources {
			configs := make(map[string]string, len(res.Configs))
			var err error
			for _, cfg := range res.Configs {
				if cfg.Value == nil {
					err = fmt.Errorf("%w: Null value not supported for : %s", ErrInvalidRequest, cfg.Name)
					break
				}
				configs[cfg.Name] = *cfg.Value
			}
			if err == nil {
				err = c.ReplaceConfigs(ctx, res.ResourceType, res.ResourceName, configs, r.ValidateOnly)
			}
			out := protocol.AlterConfigsResponseAlterConfigsResourceResponse{ResourceType: res.ResourceType, ResourceName: res.ResourceName}
			out.ErrorCode, out.ErrorMessage = errorFields(err)
			resp.Responses = append(resp.Responses, out)
		}
		return resp
	case *protocol.ElectLeadersRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		election := Election(r.ElectionType)
		if v == 0 {
			election = ElectionPreferred
		}
		parts, errs, err := c.ElectLeaders(ctx, election, electLeadersFromRequest(r))
		return electLeadersResponse(parts, errs, err)
	case *protocol.AlterPartitionReassignmentsRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		allow := r.AllowReplicationFactorChange || v == 0
		reqs := reassignmentsFromRequest(r)
		errs, err := c.AlterPartitionReassignments(ctx, allow, reqs)
		return reassignmentsResponse(r, allow, errs, err)
	case *protocol.AlterClientQuotasRequest:
		return AlterClientQuotasResponse(c.AlterClientQuotas(ctx, QuotaAlterationsFromRequest(r), r.ValidateOnly))
	case *protocol.UpdateFeaturesRequest:
		ctx, cancel := withTimeoutMs(ctx, r.TimeoutMs)
		defer cancel()
		return UpdateFeaturesResponse(r, v, c.UpdateFeatures(ctx, FeatureUpdatesFromRequest(r, v), r.ValidateOnly))
	case *protocol.BrokerRegistrationRequest:
		epoch, err := c.RegisterBroker(ctx, registrationFromRequest(r))
		resp := &protocol.BrokerRegistrationResponse{BrokerEpoch: epoch}
		if err != nil {
			resp.BrokerEpoch = -1
			resp.ErrorCode, _ = ErrorCode(err)
		}
		return resp
	case *protocol.BrokerHeartbeatRequest:
		hb := BrokerHeartbeat{
			BrokerID: int32(r.BrokerID), BrokerEpoch: r.BrokerEpoch, CurrentMetadataOffset: r.CurrentMetadataOffset,
			WantFence: r.WantFence, WantShutDown: r.WantShutDown,
		}
		for _, d := range r.OfflineLogDirs {
			hb.OfflineLogDirs = append(hb.OfflineLogDirs, DirectoryID(d))
		}
		if r.CordonedLogDirs != nil {
			hb.CordonedLogDirs = []DirectoryID{}
			for _, d := range r.CordonedLogDirs {
				hb.CordonedLogDirs = append(hb.CordonedLogDirs, DirectoryID(d))
			}
		}
		reply, err := c.BrokerHeartbeat(ctx, hb)
		resp := &protocol.BrokerHeartbeatResponse{IsCaughtUp: reply.IsCaughtUp, IsFenced: reply.IsFenced, ShouldShutDown: reply.ShouldShutDown}
		if err != nil {
			resp.IsFenced = true
			resp.ErrorCode, _ = ErrorCode(err)
		}
		return resp
	case *protocol.AssignReplicasToDirsRequest:
		errs, err := c.AssignReplicasToDirs(ctx, int32(r.BrokerID), r.BrokerEpoch, assignmentsFromRequest(r))
		return assignReplicasToDirsResponse(r, errs, err)
	case *protocol.UnregisterBrokerRequest:
		resp := &protocol.UnregisterBrokerResponse{}
		resp.ErrorCode, resp.ErrorMessage = errorFields(c.UnregisterBroker(ctx, int32(r.BrokerID)))
		return resp
	case *protocol.AllocateProducerIdsRequest:
		first, err := c.allocateProducerIDsFor(ctx, int32(r.BrokerID), r.BrokerEpoch)
		resp := &protocol.AllocateProducerIdsResponse{ProducerIDStart: protocol.ProducerID(first), ProducerIDLen: producerIDBlock}
		if err != nil {
			resp.ProducerIDStart, resp.ProducerIDLen = -1, 0
			resp.ErrorCode, _ = ErrorCode(err)
		}
		return resp
	case *protocol.AlterPartitionRequest:
		updates := isrUpdatesFromRequest(r, v)
		results, err := c.AlterPartition(ctx, int32(r.BrokerID), r.BrokerEpoch, updates)
		return alterPartitionResponse(r, results, err)
	case *protocol.FetchRequest:
		return c.handleFetch(ctx, r)
	case *protocol.FetchSnapshotRequest:
		return c.handleFetchSnapshot(r)
	case *protocol.DescribeQuorumRequest:
		return c.handleDescribeQuorum(r)
	}
	return nil
}

func withTimeoutMs(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	if ms <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

// timeoutMs is the TimeoutMs a forwarded request carries: what is left of
// ctx, or 30 s.
func timeoutMs(ctx context.Context) int32 {
	if dl, ok := ctx.Deadline(); ok {
		return int32(max(time.Until(dl).Milliseconds(), 1))
	}
	return int32(kafkarpc.DefaultTimeout.Milliseconds())
}

// apiVersionsResponse lists the controller listener's APIs and, as Kafka's
// controllers do, the supported and finalized features (a controller
// joining the quorum is asked for its kraft.version range).
func (c *Controller) apiVersionsResponse() *protocol.ApiVersionsResponse {
	resp := &protocol.ApiVersionsResponse{}
	// SaslHandshake and SaslAuthenticate are answered by the listener before
	// authentication (internal/seclink.Accept), as Kafka's controller lists
	// them: without them a client falls back to raw SASL v0 tokens.
	for _, k := range append([]int16{protocol.KeySaslHandshake, protocol.KeySaslAuthenticate}, rpcKeys...) {
		api := protocol.LookupAPI(k)
		resp.APIKeys = append(resp.APIKeys, protocol.ApiVersionsResponseAPIVersion{APIKey: k, MinVersion: api.MinVersion, MaxVersion: api.MaxStableVersion()})
	}
	img := c.Image()
	resp.FinalizedFeaturesEpoch = int64(img.Offset())
	for _, f := range SupportedFeatures {
		resp.SupportedFeatures = append(resp.SupportedFeatures, protocol.ApiVersionsResponseSupportedFeatureKey{
			Name: f.Name, MinVersion: f.MinSupportedVersion, MaxVersion: f.MaxSupportedVersion,
		})
		if lvl := img.Feature(f.Name); lvl > 0 {
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, protocol.ApiVersionsResponseFinalizedFeatureKey{
				Name: f.Name, MinVersionLevel: lvl, MaxVersionLevel: lvl,
			})
		}
	}
	return resp
}

// errorFields is an error's code and message for a response.
func errorFields(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	code, msg := ErrorCode(err)
	return code, &msg
}

func int32s(ids []protocol.BrokerID) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

func brokerIDs(ids []int32) []protocol.BrokerID {
	out := make([]protocol.BrokerID, len(ids))
	for i, id := range ids {
		out[i] = protocol.BrokerID(id)
	}
	return out
}

// CreateTopics.

func createTopicsRequest(ctx context.Context, topics []CreateTopic, validateOnly bool) *protocol.CreateTopicsRequest {
	req := &protocol.CreateTopicsRequest{TimeoutMs: timeoutMs(ctx), ValidateOnly: validateOnly}
	for _, t := range topics {
		ct := protocol.CreateTopicsRequestCreatableTopic{Name: protocol.TopicName(t.Name), NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		for _, p := range sortedKeys(t.Assignments) {
			ct.Assignments = append(ct.Assignments, protocol.CreateTopicsRequestCreatableReplicaAssignment{PartitionIndex: p, BrokerIDs: brokerIDs(t.Assignments[p])})
		}
		for _, k := range sortedKeys(t.Configs) {
			ct.Configs = append(ct.Configs, protocol.CreateTopicsRequestCreatableTopicConfig{Name: k, Value: t.Configs[k]})
		}
		req.Topics = append(req.Topics, ct)
	}
	return req
}

func createTopicsFromRequest(r *protocol.CreateTopicsRequest) []CreateTopic {
	out := make([]CreateTopic, len(r.Topics))
	for i, t := range r.Topics {
		ct := CreateTopic{Name: string(t.Name), NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		if len(t.Assignments) > 0 {
			ct.Assignments = make(map[int32][]int32, len(t.Assignments))
			for _, a := range t.Assignments {
				ct.Assignments[a.PartitionIndex] = int32s(a.BrokerIDs)
			}
		}
		if len(t.Configs) > 0 {
			ct.Configs = make(map[string]*string, len(t.Configs))
			for _, c := range t.Configs {
				ct.Configs[c.Name] = c.Value
			}
		}
		out[i] = ct
	}
	return out
}

func createTopicsResponse(results []CreateTopicResult) *protocol.CreateTopicsResponse {
	resp := &protocol.CreateTopicsResponse{}
	for _, r := range results {
		res := protocol.CreateTopicsResponseCreatableTopicResult{
			Name: protocol.TopicName(r.Name), TopicID: protocol.UUID(r.TopicID),
			NumPartitions: r.NumPartitions, ReplicationFactor: r.ReplicationFactor,
		}
		if r.Err != nil {
			res.ErrorCode, res.ErrorMessage = errorFields(r.Err)
			res.NumPartitions, res.ReplicationFactor = -1, -1
		}
		resp.Topics = append(resp.Topics, res)
	}
	return resp
}

func createTopicsResults(topics []CreateTopic, resp *protocol.CreateTopicsResponse) []CreateTopicResult {
	out := make([]CreateTopicResult, len(topics))
	for i, t := range topics {
		out[i] = CreateTopicResult{Name: t.Name, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		if i >= len(resp.Topics) {
			out[i].Err = fmt.Errorf("%w: no result for topic %s", ErrUnknownServerError, t.Name)
			continue
		}
		r := resp.Topics[i]
		out[i].Err = CodeError(r.ErrorCode, r.ErrorMessage)
		if out[i].Err == nil {
			out[i].TopicID, out[i].NumPartitions, out[i].ReplicationFactor = TopicID(r.TopicID), r.NumPartitions, r.ReplicationFactor
		}
	}
	return out
}

// DeleteTopics.

func deleteTopicsRequest(ctx context.Context, refs []TopicRef) *protocol.DeleteTopicsRequest {
	req := &protocol.DeleteTopicsRequest{TimeoutMs: timeoutMs(ctx)}
	for _, r := range refs {
		st := protocol.DeleteTopicsRequestDeleteTopicState{TopicID: protocol.UUID(r.ID)}
		if r.ID == (TopicID{}) {
			name := protocol.TopicName(r.Name)
			st.Name = &name
		}
		req.Topics = append(req.Topics, st)
	}
	return req
}

func deleteTopicsFromRequest(r *protocol.DeleteTopicsRequest) []TopicRef {
	var refs []TopicRef
	for _, n := range r.TopicNames {
		refs = append(refs, TopicRef{Name: string(n)})
	}
	for _, t := range r.Topics {
		ref := TopicRef{ID: TopicID(t.TopicID)}
		if t.Name != nil {
			ref.Name = string(*t.Name)
		}
		refs = append(refs, ref)
	}
	return refs
}

func deleteTopicsResponse(results []DeleteTopicResult) *protocol.DeleteTopicsResponse {
	resp := &protocol.DeleteTopicsResponse{}
	for _, r := range results {
		name := protocol.TopicName(r.Name)
		res := protocol.DeleteTopicsResponseDeletableTopicResult{Name: &name, TopicID: protocol.UUID(r.TopicID)}
		res.ErrorCode, res.ErrorMessage = errorFields(r.Err)
		resp.Responses = append(resp.Responses, res)
	}
	return resp
}

func deleteTopicsResults(refs []TopicRef, resp *protocol.DeleteTopicsResponse) []DeleteTopicResult {
	out := make([]DeleteTopicResult, len(refs))
	for i, ref := range refs {
		out[i] = DeleteTopicResult{Name: ref.Name, TopicID: ref.ID}
		if i >= len(resp.Responses) {
			out[i].Err = fmt.Errorf("%w: no result for topic %s", ErrUnknownServerError, ref.Name)
			continue
		}
		r := resp.Responses[i]
		if r.Name != nil {
			out[i].Name = string(*r.Name)
		}
		out[i].TopicID = TopicID(r.TopicID)
		out[i].Err = CodeError(r.ErrorCode, r.ErrorMessage)
	}
	return out
}

// ElectLeaders.

func electLeadersRequest(ctx context.Context, election Election, parts []TopicPartition) *protocol.ElectLeadersRequest {
	req := &protocol.ElectLeadersRequest{ElectionType: int8(election), TimeoutMs: timeoutMs(ctx)}
	if parts == nil {
		return req
	}
	req.TopicPartitions = []protocol.ElectLeadersRequestTopicPartitions{}
	for _, tp := range parts {
		n := len(req.TopicPartitions)
		if n > 0 && string(req.TopicPartitions[n-1].Topic) == tp.Topic {
			req.TopicPartitions[n-1].Partitions = append(req.TopicPartitions[n-1].Partitions, tp.Partition)
			continue
		}
		req.TopicPartitions = append(req.TopicPartitions, protocol.ElectLeadersRequestTopicPartitions{Topic: protocol.TopicName(tp.Topic), Partitions: []int32{tp.Partition}})
	}
	return req
}

func electLeadersFromRequest(r *protocol.ElectLeadersRequest) []TopicPartition {
	if r.TopicPartitions == nil {
		return nil
	}
	parts := []TopicPartition{}
	for _, t := range r.TopicPartitions {
		for _, p := range t.Partitions {
			parts = append(parts, TopicPartition{Topic: string(t.Topic), Partition: p})
		}
	}
	return parts
}

// electLeadersResponse lists results grouped by consecutive topic.
func electLeadersResponse(parts []TopicPartition, errs []error, err error) *protocol.ElectLeadersResponse {
	resp := &protocol.ElectLeadersResponse{ReplicaElectionResults: []protocol.ElectLeadersResponseReplicaElectionResult{}}
	if err != nil {
		resp.ErrorCode, _ = ErrorCode(err)
		return resp
	}
	for i, tp := range parts {
		pr := protocol.ElectLeadersResponsePartitionResult{PartitionID: tp.Partition}
		pr.ErrorCode, pr.ErrorMessage = errorFields(errs[i])
		n := len(resp.ReplicaElectionResults)
		if n > 0 && string(resp.ReplicaElectionResults[n-1].Topic) == tp.Topic {
			resp.ReplicaElectionResults[n-1].PartitionResult = append(resp.ReplicaElectionResults[n-1].PartitionResult, pr)
			continue
		}
		resp.ReplicaElectionResults = append(resp.ReplicaElectionResults, protocol.ElectLeadersResponseReplicaElectionResult{
			Topic: protocol.TopicName(tp.Topic), PartitionResult: []protocol.ElectLeadersResponsePartitionResult{pr},
		})
	}
	return resp
}

func electLeadersResults(resp *protocol.ElectLeadersResponse) ([]TopicPartition, []error, error) {
	if resp.ErrorCode != 0 {
		return nil, nil, CodeError(resp.ErrorCode, nil)
	}
	var parts []TopicPartition
	var errs []error
	for _, t := range resp.ReplicaElectionResults {
		for _, p := range t.PartitionResult {
			parts = append(parts, TopicPartition{Topic: string(t.Topic), Partition: p.PartitionID})
			errs = append(errs, CodeError(p.ErrorCode, p.ErrorMessage))
		}
	}
	return parts, errs, nil
}

// AlterPartitionReassignments.

func reassignmentsRequest(ctx context.Context, allowRFChange bool, reqs []Reassignment) *protocol.AlterPartitionReassignmentsRequest {
	req := &protocol.AlterPartitionReassignmentsRequest{TimeoutMs: timeoutMs(ctx), AllowReplicationFactorChange: allowRFChange}
	for _, r := range reqs {
		var replicas []protocol.BrokerID
		if r.Replicas != nil {
			replicas = brokerIDs(r.Replicas)
		}
		p := protocol.AlterPartitionReassignmentsRequestReassignablePartition{PartitionIndex: r.Partition, Replicas: replicas}
		n := len(req.Topics)
		if n > 0 && string(req.Topics[n-1].Name) == r.Topic {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, p)
			continue
		}
		req.Topics = append(req.Topics, protocol.AlterPartitionReassignmentsRequestReassignableTopic{
			Name: protocol.TopicName(r.Topic), Partitions: []protocol.AlterPartitionReassignmentsRequestReassignablePartition{p},
		})
	}
	return req
}

func reassignmentsFromRequest(r *protocol.AlterPartitionReassignmentsRequest) []Reassignment {
	var out []Reassignment
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			var replicas []int32
			if p.Replicas != nil {
				replicas = int32s(p.Replicas)
			}
			out = append(out, Reassignment{Topic: string(t.Name), Partition: p.PartitionIndex, Replicas: replicas})
		}
	}
	return out
}

func reassignmentsResponse(r *protocol.AlterPartitionReassignmentsRequest, allow bool, errs []error, err error) *protocol.AlterPartitionReassignmentsResponse {
	resp := &protocol.AlterPartitionReassignmentsResponse{
		AllowReplicationFactorChange: allow,
		Responses:                    []protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{},
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorFields(err)
		return resp
	}
	i := 0
	for _, t := range r.Topics {
		tr := protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := protocol.AlterPartitionReassignmentsResponseReassignablePartitionResponse{PartitionIndex: p.PartitionIndex}
			pr.ErrorCode, pr.ErrorMessage = errorFields(errs[i])
			i++
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Responses = append(resp.Responses, tr)
	}
	return resp
}

func reassignmentsResults(n int, resp *protocol.AlterPartitionReassignmentsResponse) ([]error, error) {
	if resp.ErrorCode != 0 {
		return nil, CodeError(resp.ErrorCode, resp.ErrorMessage)
	}
	errs := make([]error, 0, n)
	for _, t := range resp.Responses {
		for _, p := range t.Partitions {
			errs = append(errs, CodeError(p.ErrorCode, p.ErrorMessage))
		}
	}
	for len(errs) < n {
		errs = append(errs, fmt.Errorf("%w: missing reassignment result", ErrUnknownServerError))
	}
	return errs[:n], nil
}

// BrokerRegistration.

func registrationRequest(reg BrokerRegistration) *protocol.BrokerRegistrationRequest {
	req := &protocol.BrokerRegistrationRequest{
		BrokerID: protocol.BrokerID(reg.ID), ClusterID: reg.ClusterID, IncarnationID: protocol.UUID(reg.IncarnationID),
		Rack: reg.Rack, PreviousBrokerEpoch: reg.PreviousBrokerEpoch,
		Listeners: []protocol.BrokerRegistrationRequestListener{}, Features: []protocol.BrokerRegistrationRequestFeature{},
	}
	for _, e := range reg.Endpoints {
		req.Listeners = append(req.Listeners, protocol.BrokerRegistrationRequestListener{Name: e.Name, Host: e.Host, Port: e.Port, SecurityProtocol: e.SecurityProtocol})
	}
	for _, f := range reg.Features {
		req.Features = append(req.Features, protocol.BrokerRegistrationRequestFeature{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
	}
	for _, d := range reg.LogDirs {
		req.LogDirs = append(req.LogDirs, protocol.UUID(d))
	}
	return req
}

func registrationFromRequest(r *protocol.BrokerRegistrationRequest) BrokerRegistration {
	// PreviousBrokerEpoch is -1 in requests before v3 (the decoder's
	// default), which no registered epoch equals: Kafka's controller also
	// treats them as unclean.
	reg := BrokerRegistration{ID: int32(r.BrokerID), ClusterID: r.ClusterID, IncarnationID: [16]byte(r.IncarnationID), Rack: r.Rack,
		PreviousBrokerEpoch: r.PreviousBrokerEpoch}
	for _, d := range r.LogDirs {
		reg.LogDirs = append(reg.LogDirs, DirectoryID(d))
	}
	for _, l := range r.Listeners {
		reg.Endpoints = append(reg.Endpoints, Endpoint{Name: l.Name, Host: l.Host, Port: l.Port, SecurityProtocol: l.SecurityProtocol})
	}
	for _, f := range r.Features {
		reg.Features = append(reg.Features, FeatureRange{Name: f.Name, MinSupportedVersion: f.MinSupportedVersion, MaxSupportedVersion: f.MaxSupportedVersion})
	}
	return reg
}

// AllocateProducerIds.

// allocateProducerIDsFor reserves a block for a registered broker of the
// given epoch.
func (c *Controller) allocateProducerIDsFor(ctx context.Context, brokerID int32, epoch int64) (int64, error) {
	b := c.Image().Broker(brokerID)
	switch {
	case b == nil:
		return -1, fmt.Errorf("%w: Broker %d is not currently registered", ErrBrokerIDNotRegistered, brokerID)
	case epoch >= 0 && b.Epoch != epoch:
		return -1, fmt.Errorf("%w: Expected broker epoch %d, but got broker epoch %d", ErrStaleBrokerEpoch, b.Epoch, epoch)
	}
	return c.AllocateProducerIDs(ctx, producerIDBlock)
}

// AlterPartition.

func alterPartitionRequest(brokerID int32, brokerEpoch int64, updates []ISRUpdate) *protocol.AlterPartitionRequest {
	req := &protocol.AlterPartitionRequest{BrokerID: protocol.BrokerID(brokerID), BrokerEpoch: brokerEpoch}
	for _, u := range updates {
		pd := protocol.AlterPartitionRequestPartitionData{PartitionIndex: u.Partition, LeaderEpoch: u.LeaderEpoch, PartitionEpoch: u.PartitionEpoch,
			LeaderRecoveryState: int8(u.LeaderRecoveryState)}
		for i, r := range u.NewISR {
			epoch := int64(-1)
			if i < len(u.BrokerEpochs) {
				epoch = u.BrokerEpochs[i]
			}
			pd.NewIsr = append(pd.NewIsr, protocol.BrokerID(r))
			pd.NewIsrWithEpochs = append(pd.NewIsrWithEpochs, protocol.AlterPartitionRequestBrokerState{BrokerID: protocol.BrokerID(r), BrokerEpoch: epoch})
		}
		n := len(req.Topics)
		if n > 0 && req.Topics[n-1].TopicID == protocol.UUID(u.TopicID) {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, pd)
			continue
		}
		req.Topics = append(req.Topics, protocol.AlterPartitionRequestTopicData{TopicID: protocol.UUID(u.TopicID), Partitions: []protocol.AlterPartitionRequestPartitionData{pd}})
	}
	return req
}

// isrUpdatesFromRequest reads AlterPartition v2+ (topic IDs; NewIsrWithEpochs
// from v3). Topics named by v0-1 requests get the zero ID and fail as
// unknown.
func isrUpdatesFromRequest(r *protocol.AlterPartitionRequest, v int16) []ISRUpdate {
	var out []ISRUpdate
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			u := ISRUpdate{TopicID: TopicID(t.TopicID), Partition: p.PartitionIndex, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				LeaderRecoveryState: LeaderRecoveryState(p.LeaderRecoveryState)}
			if v >= 3 {
				for _, s := range p.NewIsrWithEpochs {
					u.NewISR = append(u.NewISR, int32(s.BrokerID))
					u.BrokerEpochs = append(u.BrokerEpochs, s.BrokerEpoch)
				}
			} else {
				u.NewISR = int32s(p.NewIsr)
			}
			out = append(out, u)
		}
	}
	return out
}

func alterPartitionResponse(r *protocol.AlterPartitionRequest, results []ISRUpdateResult, err error) *protocol.AlterPartitionResponse {
	resp := &protocol.AlterPartitionResponse{}
	if err != nil {
		resp.ErrorCode, _ = ErrorCode(err)
		return resp
	}
	i := 0
	for _, t := range r.Topics {
		td := protocol.AlterPartitionResponseTopicData{TopicName: t.TopicName, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			res := results[i]
			i++
			pd := protocol.AlterPartitionResponsePartitionData{PartitionIndex: p.PartitionIndex}
			if res.Err != nil {
				pd.ErrorCode, _ = ErrorCode(res.Err)
			} else {
				pd.LeaderID, pd.LeaderEpoch, pd.Isr, pd.PartitionEpoch = protocol.BrokerID(res.Leader), res.LeaderEpoch, brokerIDs(res.ISR), res.PartitionEpoch
				pd.LeaderRecoveryState = int8(res.LeaderRecoveryState)
			}
			td.Partitions = append(td.Partitions, pd)
		}
		resp.Topics = append(resp.Topics, td)
	}
	return resp
}

func alterPartitionResults(n int, resp *protocol.AlterPartitionResponse) ([]ISRUpdateResult, error) {
	if resp.ErrorCode != 0 {
		return nil, CodeError(resp.ErrorCode, nil)
	}
	out := make([]ISRUpdateResult, 0, n)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, ISRUpdateResult{
				Err: CodeError(p.ErrorCode, nil), Leader: int32(p.LeaderID), LeaderEpoch: p.LeaderEpoch,
				ISR: int32s(p.Isr), PartitionEpoch: p.PartitionEpoch, LeaderRecoveryState: LeaderRecoveryState(p.LeaderRecoveryState),
			})
		}
	}
	if len(out) != n {
		return nil, errors.New("controller: AlterPartition response does not match the request")
	}
	return out, nil
}

// UpdateFeatures.

// FeatureUpdatesFromRequest reads an UpdateFeatures request of version v:
// v0's AllowDowngrade is a safe downgrade, v1+ names the upgrade type.
func FeatureUpdatesFromRequest(r *protocol.UpdateFeaturesRequest, v int16) []FeatureUpdate {
	out := make([]FeatureUpdate, 0, len(r.FeatureUpdates))
	for _, u := range r.FeatureUpdates {
		t := UpgradeType(u.UpgradeType)
		if v == 0 {
			t = Upgrade
			if u.AllowDowngrade {
				t = SafeDowngrade
			}
		}
		out = append(out, FeatureUpdate{Name: u.Feature, Level: u.MaxVersionLevel, Type: t})
	}
	return out
}

// UpdateFeaturesResponse answers an UpdateFeatures request of version v
// as Kafka 4 does: a refusal is the top-level error alone; a success has
// one NONE result per feature at v0-1 and none at v2.
func UpdateFeaturesResponse(r *protocol.UpdateFeaturesRequest, v int16, err error) *protocol.UpdateFeaturesResponse {
	resp := &protocol.UpdateFeaturesResponse{Results: []protocol.UpdateFeaturesResponseUpdatableFeatureResult{}}
	if err != nil {
		code, msg := ErrorCode(err)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp
	}
	if v <= 1 {
		none := "NONE"
		for _, u := range r.FeatureUpdates {
			resp.Results = append(resp.Results, protocol.UpdateFeaturesResponseUpdatableFeatureResult{Feature: u.Feature, ErrorMessage: &none})
		}
	}
	return resp
}
