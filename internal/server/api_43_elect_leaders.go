package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ElectLeaders (key 43): versions 0-2.
//
// Behaviour:
//   - PREFERRED (0) moves leadership to the first replica if it is in the
//     ISR and alive (PREFERRED_LEADER_NOT_AVAILABLE otherwise); UNCLEAN (1)
//     elects a live replica only for a partition without a leader
//     (ELIGIBLE_LEADERS_NOT_AVAILABLE if none). A partition that needs no
//     election gets ELECTION_NOT_NEEDED.
//   - A null partition list means every partition, and then only the
//     partitions where an election happened or failed are reported.
//   - The response waits until this broker's image has the new leaders.
//
// Version notes:
//   - v1: ElectionType (v0 is always preferred, KIP-460) and a top-level
//     ErrorCode. v2: flexible.

// Election types (ElectLeaders v1+; v0 is always preferred).
const (
	electionPreferred = 0
	electionUnclean   = 1
)

func (b *Broker) handleElectLeaders(ctx context.Context, rc *reqCtx, req *protocol.ElectLeadersRequest) (*protocol.ElectLeadersResponse, error) {
	resp := &protocol.ElectLeadersResponse{ReplicaElectionResults: []protocol.ElectLeadersResponseReplicaElectionResult{}}
	img := b.ctrl.Image()
	electionType := req.ElectionType
	if rc.v == 0 {
		electionType = electionPreferred
	}
	// A null list elects every partition; Kafka then reports only the
	// partitions where an election was needed.
	all := req.TopicPartitions == nil
	requested := req.TopicPartitions
	if all {
		for _, t := range img.Topics() {
			tp := protocol.ElectLeadersRequestTopicPartitions{Topic: protocol.TopicName(t.Name)}
			for i := range t.Partitions {
				tp.Partitions = append(tp.Partitions, int32(i))
			}
			requested = append(requested, tp)
		}
	}
	changed := false
	for _, t := range requested {
		res := protocol.ElectLeadersResponseReplicaElectionResult{Topic: t.Topic, PartitionResult: []protocol.ElectLeadersResponsePartitionResult{}}
		for _, p := range t.Partitions {
			code, msg := b.electLeader(ctx, img, string(t.Topic), p, int8(electionType))
			if code == 0 {
				changed = true
			}
			if all && code == errcode.ElectionNotNeeded {
				continue
			}
			pr := protocol.ElectLeadersResponsePartitionResult{PartitionID: p, ErrorCode: code}
			if code != 0 {
				pr.ErrorMessage = &msg
			}
			res.PartitionResult = append(res.PartitionResult, pr)
		}
		if len(res.PartitionResult) > 0 || !all {
			resp.ReplicaElectionResults = append(resp.ReplicaElectionResults, res)
		}
	}
	if changed {
		b.syncImage()
	}
	return resp, nil
}

// electLeader runs one election as Kafka's controller does: preferred moves
// leadership to the first replica if it is in the ISR and alive; unclean
// picks any live replica only when there is no leader.
func (b *Broker) electLeader(ctx context.Context, img *controller.MetadataImage, topic string, partition int32, electionType int8) (int16, string) {
	t := img.Topic(topic)
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return errcode.UnknownTopicOrPartition, errcode.Message(errcode.UnknownTopicOrPartition)
	}
	p := t.Partitions[partition]
	alive := func(id int32) bool { br := img.Broker(id); return br != nil && !br.Fenced }
	var leader int32 = -1
	switch electionType {
	case electionPreferred:
		if len(p.Replicas) == 0 || p.Leader == p.Replicas[0] {
			return errcode.ElectionNotNeeded, errcode.Message(errcode.ElectionNotNeeded)
		}
		preferred := p.Replicas[0]
		if !slices.Contains(p.ISR, preferred) || !alive(preferred) {
			return errcode.PreferredLeaderNotAvailable, errcode.Message(errcode.PreferredLeaderNotAvailable)
		}
		leader = preferred
	case electionUnclean:
		if p.Leader >= 0 {
			return errcode.ElectionNotNeeded, errcode.Message(errcode.ElectionNotNeeded)
		}
		for _, r := range p.Replicas {
			if alive(r) {
				leader = r
				break
			}
		}
		if leader < 0 {
			return errcode.EligibleLeadersNotAvailable, errcode.Message(errcode.EligibleLeadersNotAvailable)
		}
	default:
		return errcode.InvalidRequest, fmt.Sprintf("Unknown election type %d", electionType)
	}
	ch := controller.PartitionChange{TopicID: t.ID, Partition: partition, Leader: leader, PartitionEpoch: p.PartitionEpoch}
	if !slices.Contains(p.ISR, leader) {
		ch.ISR = []int32{leader} // unclean: the new leader is the whole ISR
	}
	if _, err := b.ctrl.ChangePartition(ctx, ch); err != nil {
		return controllerErrorCode(err)
	}
	return 0, ""
}
