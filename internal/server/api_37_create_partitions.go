package server

import (
	"context"
	"fmt"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// CreatePartitions (key 37): versions 0-3.
//
// Behaviour:
//   - The controller adds partitions to each topic up to Count, with the
//     given replica assignments or its own; a count that is not an increase
//     is INVALID_PARTITIONS with Kafka's messages, a topic given twice
//     INVALID_REQUEST. ValidateOnly checks only.
//   - The response waits until this broker's image has the new partitions.
//   - Authorization (authz.go): ALTER on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: flexible. v3: may answer THROTTLING_QUOTA_EXCEEDED (KIP-599).
//
// Where Spool differs from Kafka 4.3:
//   - No controller mutation quota: never THROTTLING_QUOTA_EXCEEDED.

func (b *Broker) handleCreatePartitions(ctx context.Context, rc *reqCtx, req *protocol.CreatePartitionsRequest) (*protocol.CreatePartitionsResponse, error) {
	ctx = rc.mutationQuota(ctx, 3) // controller_mutation_rate, strict from v3 (quotas.go)
	resp := &protocol.CreatePartitionsResponse{}
	counts := map[protocol.TopicName]int{}
	for _, t := range req.Topics {
		counts[t.Name]++
	}
	reported := map[protocol.TopicName]bool{}
	changed := false
	for _, t := range req.Topics {
		if counts[t.Name] > 1 {
			if !reported[t.Name] {
				reported[t.Name] = true
				resp.Results = append(resp.Results, createPartitionsError(t.Name, errcode.InvalidRequest, "Duplicate topic name."))
			}
			continue
		}
		if !b.authorize(rc, acl.OpAlter, acl.ResourceTopic, string(t.Name)) { // authz.go
			resp.Results = append(resp.Results, createPartitionsError(t.Name, errcode.TopicAuthorizationFailed, "The topic authorization is failed."))
			continue
		}
		res := b.createPartitions(ctx, &t, req.ValidateOnly)
		if res.ErrorCode == 0 && !req.ValidateOnly {
			changed = true
		}
		resp.Results = append(resp.Results, res)
	}
	if changed {
		b.syncImage()
	}
	return resp, nil
}

func (b *Broker) createPartitions(ctx context.Context, t *protocol.CreatePartitionsRequestCreatePartitionsTopic, validateOnly bool) protocol.CreatePartitionsResponseCreatePartitionsTopicResult {
	// Kafka's KRaft messages for counts that are not an increase (the
	// controller's own wording predates KRaft).
	if ti := b.ctrl.Image().Topic(string(t.Name)); ti != nil {
		switch cur := int32(len(ti.Partitions)); {
		case t.Count == cur:
			return createPartitionsError(t.Name, errcode.InvalidPartitions, fmt.Sprintf("Topic already has %d partition(s).", cur))
		case t.Count < cur:
			return createPartitionsError(t.Name, errcode.InvalidPartitions,
				fmt.Sprintf("The topic %s currently has %d partition(s); %d would not be an increase.", t.Name, cur, t.Count))
		}
	}
	var assignments [][]int32
	if t.Assignments != nil {
		assignments = make([][]int32, len(t.Assignments))
		for i, a := range t.Assignments {
			assignments[i] = make([]int32, len(a.BrokerIDs))
			for j, id := range a.BrokerIDs {
				assignments[i][j] = int32(id)
			}
		}
	}
	if err := b.ctrl.CreatePartitions(ctx, string(t.Name), t.Count, assignments, validateOnly); err != nil {
		code, msg := controllerErrorCode(err)
		return createPartitionsError(t.Name, code, msg)
	}
	return protocol.CreatePartitionsResponseCreatePartitionsTopicResult{Name: t.Name}
}

func createPartitionsError(name protocol.TopicName, code int16, msg string) protocol.CreatePartitionsResponseCreatePartitionsTopicResult {
	return protocol.CreatePartitionsResponseCreatePartitionsTopicResult{Name: name, ErrorCode: code, ErrorMessage: &msg}
}
