package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ShareAcknowledge (key 79): versions 1-2.
//
// Behaviour:
//   - Acknowledges records a member acquired with ShareFetch, in its share
//     session: epoch 0 is INVALID_SHARE_SESSION_EPOCH (a session is opened
//     by ShareFetch), a missing session SHARE_SESSION_NOT_FOUND, another
//     epoch than the session's INVALID_SHARE_SESSION_EPOCH; -1 closes the
//     session after the acknowledgements and releases what the member
//     still holds.
//   - Types per batch (one for the whole range, or one per offset): 0 gap
//     and 3 REJECT archive, 1 ACCEPT acknowledges, 2 RELEASE makes the
//     record available again (archived once delivered
//     group.share.delivery.count.limit times), 4 RENEW (v2, KIP-1222)
//     restarts the acquisition lock. A batch touching a record the member
//     does not hold is INVALID_RECORD_STATE, wholly; the new state is
//     persisted before the answer.
//   - Answered with UNSUPPORTED_VERSION unless share.version >= 1.
//   - Authorization (authz.go): READ on the group and on each topic.
//
// Version notes:
//   - v1 is the first stable version (KIP-932); v0, Kafka 4.0's
//     early-access version, is not served (as Kafka 4.1+).
//   - v2 (KIP-1222): IsRenewAck and the RENEW acknowledgement type (4);
//     RENEW in a v1 request is INVALID_REQUEST for its partition.
//
// Where Spool differs from Kafka 4.3:
//   - Share sessions as in ShareFetch (api_78_share_fetch.go: the session
//     limit, sessions ending with their connection). None known for the
//     acknowledgements themselves.

func (sh *shareHandlers) handleShareAcknowledge(ctx context.Context, rc *reqCtx, req *protocol.ShareAcknowledgeRequest) (*protocol.ShareAcknowledgeResponse, error) {
	resp := &protocol.ShareAcknowledgeResponse{
		Responses:     []protocol.ShareAcknowledgeResponseShareAcknowledgeTopicResponse{},
		NodeEndpoints: []protocol.ShareAcknowledgeResponseNodeEndpoint{},
	}
	fail := func(code int16, msg string) (*protocol.ShareAcknowledgeResponse, error) {
		resp.ErrorCode, resp.AcquisitionLockTimeoutMs = code, 0
		if msg == "" {
			msg = errcode.Message(code)
		}
		resp.ErrorMessage = &msg
		return resp, nil
	}
	if !sh.b.shareEnabled() {
		return fail(errcode.UnsupportedVersion, "The share group protocol is not enabled (share.version).")
	}
	if req.GroupID == nil || *req.GroupID == "" {
		return fail(errcode.InvalidRequest, "Group ID is not provided.")
	}
	if req.MemberID == nil || *req.MemberID == "" {
		return fail(errcode.InvalidRequest, "Member ID is not provided.")
	}
	groupID, member := string(*req.GroupID), *req.MemberID
	resp.AcquisitionLockTimeoutMs = int32(sh.groupConfig(groupID).LockDuration / time.Millisecond)
	if !sh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, groupID) {
		return fail(errcode.GroupAuthorizationFailed, "")
	}
	sess, code := sh.session(groupID, member, req.ShareSessionEpoch, false)
	if code != 0 {
		return fail(code, "")
	}
	defer sess.mu.Unlock()
	img := sh.b.image.Load()
	allowed := map[protocol.UUID]bool{}
	for _, t := range req.Topics {
		tr := protocol.ShareAcknowledgeResponseShareAcknowledgeTopicResponse{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			r := &shareRead{tp: shareTP{t.TopicID, p.PartitionIndex}}
			sh.resolve(ctx, img, groupID, r, false)
			if r.topic != "" {
				ok, seen := allowed[t.TopicID]
				if !seen {
					ok = sh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, r.topic)
					allowed[t.TopicID] = ok
				}
				if !ok {
					r.sp, r.code = nil, errcode.TopicAuthorizationFailed
				}
			}
			batches := make([]ackBatch, len(p.AcknowledgementBatches))
			for i, b := range p.AcknowledgementBatches {
				batches[i] = ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes}
			}
			pd := protocol.ShareAcknowledgeResponsePartitionData{
				PartitionIndex: p.PartitionIndex,
				ErrorCode:      sh.acknowledge(ctx, r, member, batches, rc.v >= 2),
			}
			if pd.ErrorCode == errcode.NotLeaderOrFollower || pd.ErrorCode == errcode.FencedLeaderEpoch {
				pd.CurrentLeader = protocol.ShareAcknowledgeResponseLeaderIDAndEpoch{LeaderID: r.leader, LeaderEpoch: r.epoch}
				if r.p == nil {
					pd.CurrentLeader = protocol.ShareAcknowledgeResponseLeaderIDAndEpoch{LeaderID: -1, LeaderEpoch: -1}
				}
			}
			if pd.ErrorCode == errcode.NotLeaderOrFollower && r.leader >= 0 {
				if ep, ok := sh.b.liveEndpoint(r.leader, rc.c.listener); ok && !hasAckEndpoint(resp.NodeEndpoints, r.leader) {
					resp.NodeEndpoints = append(resp.NodeEndpoints, protocol.ShareAcknowledgeResponseNodeEndpoint{NodeID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack})
				}
			}
			tr.Partitions = append(tr.Partitions, pd)
		}
		resp.Responses = append(resp.Responses, tr)
	}
	if req.ShareSessionEpoch == -1 {
		sh.releaseIn(groupID, member, sess.order)
	}
	return resp, nil
}

func hasAckEndpoint(eps []protocol.ShareAcknowledgeResponseNodeEndpoint, id int32) bool {
	for _, e := range eps {
		if int32(e.NodeID) == id {
			return true
		}
	}
	return false
}
