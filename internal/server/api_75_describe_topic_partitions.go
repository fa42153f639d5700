package server

import (
	"context"
	"slices"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeTopicPartitions (key 75): version 0.
//
// Behaviour:
//   - Topic and partition metadata as Metadata reports it, in topic name
//     order and paginated (KIP-966): at most ResponsePartitionLimit
//     partitions (capped at 2000, max.request.partition.size.limit), with a
//     NextCursor where the answer stopped. An empty topic list means all
//     topics.
//   - Missing topics get UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
//     for an illegal name).
//   - Authorization (authz.go): topics the principal may not DESCRIBE are left
//     out of "all topics" and answered TOPIC_AUTHORIZATION_FAILED when named,
//     after the rest; authorized operations come from the authorizer.
//   - A cursor whose topic is not among the named topics, or whose
//     partition index is negative, is answered INVALID_REQUEST on every
//     named topic, as Kafka refuses it.
//   - EligibleLeaderReplicas and LastKnownElr are the partition's KIP-966
//     fields (empty lists when none, or with eligible.leader.replicas.version
//     0).
//
// Where Spool differs from Kafka 4.3:
//   - A ResponsePartitionLimit of 0 or less means 2000 here; Kafka takes
//     max(min(limit, 2000), 1), i.e. 1.
//   - When the limit ends exactly at a topic's end, NextCursor names the
//     next topic that exists; Kafka's names the next topic asked for
//     whether or not it exists. Unknown topics are answered even past the
//     limit; Kafka puts them behind the cursor.

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions response holds.
const maxRequestPartitionSizeLimit = 2000

func (b *Broker) handleDescribeTopicPartitions(ctx context.Context, rc *reqCtx, req *protocol.DescribeTopicPartitionsRequest) (*protocol.DescribeTopicPartitionsResponse, error) {
	resp := &protocol.DescribeTopicPartitionsResponse{Topics: []protocol.DescribeTopicPartitionsResponseTopic{}}
	img := b.image.Load()
	limit := int(req.ResponsePartitionLimit)
	if limit <= 0 || limit > maxRequestPartitionSizeLimit {
		limit = maxRequestPartitionSizeLimit
	}

	// Topics are answered in name order, starting at the cursor's topic.
	var names []string
	if len(req.Topics) == 0 {
		for _, t := range img.Topics() {
			names = append(names, t.Name)
		}
	} else {
		for _, t := range req.Topics {
			names = append(names, string(t.Name))
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	first, firstPartition := "", int32(0)
	if req.Cursor != nil {
		first, firstPartition = string(req.Cursor.TopicName), req.Cursor.PartitionIndex
		// Kafka refuses a cursor outside the named topics, or with a negative
		// partition index, with INVALID_REQUEST for every topic asked for.
		if firstPartition < 0 || (len(req.Topics) > 0 && !slices.Contains(names, first)) {
			for _, t := range req.Topics {
				resp.Topics = append(resp.Topics, protocol.DescribeTopicPartitionsResponseTopic{
					ErrorCode: errcode.InvalidRequest, Name: ptrTopic(string(t.Name)),
					Partitions: []protocol.DescribeTopicPartitionsResponsePartition{}, TopicAuthorizedOperations: notRequestedOps,
				})
			}
			return resp, nil
		}
	}

	// Topics the principal may not DESCRIBE are left out of "all topics"
	// and answered TOPIC_AUTHORIZATION_FAILED when named, after the others,
	// without saying whether they exist (authz.go).
	var denied []protocol.DescribeTopicPartitionsResponseTopic
	n := 0
	for i, name := range names {
		if name < first {
			continue
		}
		if !b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, name) {
			if len(req.Topics) > 0 {
				denied = append(denied, protocol.DescribeTopicPartitionsResponseTopic{
					ErrorCode: errcode.TopicAuthorizationFailed, Name: ptrTopic(name),
					Partitions: []protocol.DescribeTopicPartitionsResponsePartition{}, TopicAuthorizedOperations: notRequestedOps,
				})
			}
			continue
		}
		t := img.Topic(name)
		if t == nil {
			code := errcode.UnknownTopicOrPartition
			if controller.ValidateTopicName(name) != nil {
				code = errcode.InvalidTopicException
			}
			resp.Topics = append(resp.Topics, protocol.DescribeTopicPartitionsResponseTopic{
				ErrorCode: code, Name: ptrTopic(name), Partitions: []protocol.DescribeTopicPartitionsResponsePartition{},
				TopicAuthorizedOperations: b.authorizedOperations(rc, acl.ResourceTopic, name),
			})
			continue
		}
		if n >= limit {
			resp.NextCursor = &protocol.DescribeTopicPartitionsResponseCursor{TopicName: protocol.TopicName(name)}
			break
		}
		start := int32(0)
		if name == first {
			start = firstPartition
		}
		rt := protocol.DescribeTopicPartitionsResponseTopic{
			Name: ptrTopic(name), TopicID: protocol.UUID(t.ID), IsInternal: isInternalTopic(name),
			TopicAuthorizedOperations: b.authorizedOperations(rc, acl.ResourceTopic, name),
			Partitions:                []protocol.DescribeTopicPartitionsResponsePartition{},
		}
		p := start
		for ; int(p) < len(t.Partitions) && n < limit; p++ {
			mp := metadataPartition(img, p, t.Partitions[p])
			rt.Partitions = append(rt.Partitions, protocol.DescribeTopicPartitionsResponsePartition{
				ErrorCode: mp.ErrorCode, PartitionIndex: p, LeaderID: mp.LeaderID, LeaderEpoch: mp.LeaderEpoch,
				ReplicaNodes: mp.ReplicaNodes, IsrNodes: mp.IsrNodes, OfflineReplicas: mp.OfflineReplicas,
				EligibleLeaderReplicas: brokerIDs(t.Partitions[p].ELR), LastKnownElr: brokerIDs(t.Partitions[p].LastKnownELR),
			})
			n++
		}
		resp.Topics = append(resp.Topics, rt)
		if int(p) < len(t.Partitions) {
			resp.NextCursor = &protocol.DescribeTopicPartitionsResponseCursor{TopicName: protocol.TopicName(name), PartitionIndex: p}
			break
		}
		if n >= limit && i+1 < len(names) {
			// The limit is reached exactly at a topic's end: continue with
			// the next topic that exists.
			for _, next := range names[i+1:] {
				if img.Topic(next) != nil {
					resp.NextCursor = &protocol.DescribeTopicPartitionsResponseCursor{TopicName: protocol.TopicName(next)}
					break
				}
			}
			break
		}
	}
	resp.Topics = append(resp.Topics, denied...)
	return resp, nil
}
