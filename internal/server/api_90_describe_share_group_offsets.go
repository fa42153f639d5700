package server

import (
	"context"
	"fmt"
	"sort"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeShareGroupOffsets (key 90): versions 0-1.
//
// Behaviour:
//   - For each share group: the share-partition start offset of each
//     partition asked for (all partitions of the topics the group's share
//     partitions were initialized for, or that its members subscribe to,
//     when Topics is null), read from the share coordinator; -1 for a
//     partition never initialized (left out when Topics is null).
//   - v1 Lag: the records from the start offset to the high watermark
//     (read here, or asked of the partition's leader with ListOffsets)
//     that are not yet acknowledged or archived; -1 when it is unknown.
//   - Groups that are not share groups get GROUP_ID_NOT_FOUND.
//   - Authorization (authz.go): DESCRIBE on the group, DESCRIBE on each
//     topic (topics refused are left out).
//
// Version notes:
//   - v0 (KIP-932). v1 (KIP-1226) adds Lag per partition to the response
//     (computed for every version, encoded from v1).
//
// Where Spool differs from Kafka 4.3:
//   - With Topics null, the topics are those the group coordinator
//     recorded for the group (subscribed by a member, or set by
//     AlterShareGroupOffsets; a record of Spool's own, key version 15)
//     rather than Kafka's per-partition ShareGroupStatePartitionMetadata.
//   - The start offset moves past acknowledged records at once; Kafka's may
//     trail them (its lag is the same).

func (sh *shareHandlers) handleDescribeShareGroupOffsets(ctx context.Context, rc *reqCtx, req *protocol.DescribeShareGroupOffsetsRequest) (*protocol.DescribeShareGroupOffsetsResponse, error) {
	resp := &protocol.DescribeShareGroupOffsetsResponse{Groups: []protocol.DescribeShareGroupOffsetsResponseGroup{}}
	img := sh.b.image.Load()
	for _, g := range req.Groups {
		id := string(g.GroupID)
		out := protocol.DescribeShareGroupOffsetsResponseGroup{GroupID: g.GroupID, Topics: []protocol.DescribeShareGroupOffsetsResponseTopic{}}
		setErr := func(code int16, msg string) {
			out.ErrorCode = code
			if msg == "" {
				msg = errcode.Message(code)
			}
			out.ErrorMessage = &msg
		}
		if !sh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, id) {
			setErr(errcode.GroupAuthorizationFailed, "")
			resp.Groups = append(resp.Groups, out)
			continue
		}
		isShare, code := sh.gh.coord.IsShareGroup(id)
		if code == 0 && !isShare {
			code = errcode.GroupIDNotFound
		}
		if code != 0 {
			msg := ""
			if code == errcode.GroupIDNotFound {
				msg = fmt.Sprintf("Group %s not found.", id)
			}
			setErr(code, msg)
			resp.Groups = append(resp.Groups, out)
			continue
		}
		all := g.Topics == nil
		type askTopic struct {
			name  string
			parts []int32
		}
		var asks []askTopic
		if all {
			names := map[string]bool{}
			subscribed, _ := sh.gh.coord.SubscribedTopics(id)
			for _, t := range subscribed {
				names[t] = true
			}
			for _, k := range sh.store.Keys(id) {
				if t := img.TopicByID(topicIDOf(protocol.UUID(k.TopicID))); t != nil {
					names[t.Name] = true
				}
			}
			for n := range names {
				asks = append(asks, askTopic{name: n})
			}
			sort.Slice(asks, func(i, j int) bool { return asks[i].name < asks[j].name })
		} else {
			for _, t := range g.Topics {
				asks = append(asks, askTopic{name: string(t.TopicName), parts: t.Partitions})
			}
		}
		for _, a := range asks {
			if !sh.b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, a.name) {
				continue
			}
			t := img.Topic(a.name)
			ot := protocol.DescribeShareGroupOffsetsResponseTopic{TopicName: protocol.TopicName(a.name), Partitions: []protocol.DescribeShareGroupOffsetsResponsePartition{}}
			if t == nil {
				for _, p := range a.parts {
					msg := errcode.Message(errcode.UnknownTopicOrPartition)
					ot.Partitions = append(ot.Partitions, protocol.DescribeShareGroupOffsetsResponsePartition{PartitionIndex: p, StartOffset: -1, LeaderEpoch: -1, Lag: -1,
						ErrorCode: errcode.UnknownTopicOrPartition, ErrorMessage: &msg})
				}
				if len(ot.Partitions) > 0 {
					out.Topics = append(out.Topics, ot)
				}
				continue
			}
			ot.TopicID = protocol.UUID(t.ID)
			parts := a.parts
			if parts == nil {
				for i := range t.Partitions {
					parts = append(parts, int32(i))
				}
			}
			for _, p := range parts {
				op := protocol.DescribeShareGroupOffsetsResponsePartition{PartitionIndex: p, StartOffset: -1, LeaderEpoch: -1, Lag: -1}
				if p < 0 || int(p) >= len(t.Partitions) {
					op.ErrorCode = errcode.UnknownTopicOrPartition
					msg := errcode.Message(op.ErrorCode)
					op.ErrorMessage = &msg
					ot.Partitions = append(ot.Partitions, op)
					continue
				}
				k := share.Key{GroupID: id, TopicID: [16]byte(t.ID), Partition: p}
				// The live share partition, when this broker leads it, is
				// ahead of the last write.
				st, found, code := share.State{}, false, int16(0)
				if sp := sh.get(k); sp != nil {
					st, _ = sp.Snapshot()
					found = true
				} else {
					st, found, code = sh.readState(ctx, k)
				}
				if code != 0 {
					op.ErrorCode = code
					msg := errcode.Message(code)
					op.ErrorMessage = &msg
					ot.Partitions = append(ot.Partitions, op)
					continue
				}
				if !found || st.StartOffset < 0 {
					if !all {
						ot.Partitions = append(ot.Partitions, op)
					}
					continue
				}
				op.StartOffset = st.StartOffset
				op.LeaderEpoch = t.Partitions[p].LeaderEpoch
				if hw, ok := sh.highWatermark(ctx, a.name, p, t.Partitions[p].Leader); ok {
					op.Lag = shareLag(hw, st)
				}
				ot.Partitions = append(ot.Partitions, op)
			}
			if len(ot.Partitions) > 0 {
				out.Topics = append(out.Topics, ot)
			}
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}

// highWatermark is the partition's high watermark: read here when this
// broker leads it, else asked of its leader (ListOffsets LATEST).
func (sh *shareHandlers) highWatermark(ctx context.Context, topic string, partition, leader int32) (int64, bool) {
	if lp := sh.b.partition(topic, partition); lp != nil && lp.IsLeader() {
		return lp.Log().HighWatermark(), true
	}
	if leader < 0 {
		return 0, false
	}
	resp, err := sh.call(ctx, leader, &protocol.ListOffsetsRequest{ReplicaID: -1, Topics: []protocol.ListOffsetsRequestListOffsetsTopic{{
		Name: protocol.TopicName(topic), Partitions: []protocol.ListOffsetsRequestListOffsetsPartition{{PartitionIndex: partition, CurrentLeaderEpoch: -1, Timestamp: -1}},
	}}})
	if err != nil {
		return 0, false
	}
	r := resp.(*protocol.ListOffsetsResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		return 0, false
	}
	return r.Topics[0].Partitions[0].Offset, true
}

// shareLag counts the records in [start offset, hw) not yet acknowledged
// or archived.
func shareLag(hw int64, st share.State) int64 {
	if hw <= st.StartOffset {
		return 0
	}
	lag := hw - st.StartOffset
	for _, b := range st.Batches {
		if b.DeliveryState != share.Acknowledged && b.DeliveryState != share.Archived {
			continue
		}
		lo, hi := max(b.FirstOffset, st.StartOffset), min(b.LastOffset, hw-1)
		if hi >= lo {
			lag -= hi - lo + 1
		}
	}
	return lag
}
