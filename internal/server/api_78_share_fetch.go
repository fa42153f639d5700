package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ShareFetch (key 78): versions 1-2.
//
// Behaviour:
//   - Share sessions (Kafka's ShareSessionCache), one per group and member:
//     epoch 0 opens one (replacing the member's old session, whose records
//     are released; acknowledgements are INVALID_REQUEST), then each
//     request carries the next epoch (INVALID_SHARE_SESSION_EPOCH,
//     SHARE_SESSION_NOT_FOUND); -1 closes it after its acknowledgements
//     (no fetching allowed) and releases the member's records. Topics add
//     partitions to the session, ForgottenTopicsData removes them.
//   - Piggybacked acknowledgements are applied first and persisted
//     (AcknowledgeErrorCode per partition); then every session partition
//     this broker leads acquires records for the member from its share
//     partition (coordinator/share): available records first, then new
//     ones, up to MaxRecords (whole batches in batch_optimized mode, exact
//     in record_limit mode, v2 ShareAcquireMode) and MaxBytes. The response
//     carries the batches holding acquired records and the acquired
//     ranges with their delivery counts; AcquisitionLockTimeoutMs is
//     group.share.record.lock.duration.ms (0 with a top-level error). The
//     initial fetch answers every partition asked for, later ones only
//     partitions with records, errors or acknowledgement results, as
//     Kafka.
//   - A share partition starts at the persisted start offset, else at
//     share.auto.offset.reset (the GROUP config: latest by default,
//     earliest, by_duration:<ISO-8601>) and is persisted at once in
//     __share_group_state.
//   - share.isolation.level (GROUP config) read_committed reads up to the
//     last stable offset and never hands out records of aborted
//     transactions.
//   - Without acquired records the request waits up to MaxWaitMs, woken by
//     appends to its partitions.
//   - v2 IsRenewAck: the request only acknowledges (RENEW extends locks),
//     it does not fetch. RENEW in a v1 request is INVALID_REQUEST.
//   - Answered with UNSUPPORTED_VERSION unless share.version >= 1.
//   - Authorization (authz.go): READ on the group (top-level
//     GROUP_AUTHORIZATION_FAILED), READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1 is the first stable version (KIP-932); v0, Kafka 4.0's
//     early-access version, is not served (as Kafka 4.1+).
//   - v2 (KIP-1206, KIP-1222): ShareAcquireMode (batch_optimized 0, the
//     only mode of v1, or record_limit 1), IsRenewAck and the RENEW
//     acknowledgement type.
//
// Where Spool differs from Kafka 4.3:
//   - Records are copied into the response rather than sent from the
//     segment files; MinBytes is treated as 1.
//   - A broker keeps at most group.share.max.share.sessions sessions (a new
//     one beyond is SHARE_SESSION_LIMIT_REACHED; Kafka may evict an idle
//     one instead). A session goes when its connection closes (its records
//     are released, as Kafka 4.1+), when the member leaves the group or its
//     group session expires.

func (sh *shareHandlers) handleShareFetch(ctx context.Context, rc *reqCtx, req *protocol.ShareFetchRequest) (*protocol.ShareFetchResponse, error) {
	resp := &protocol.ShareFetchResponse{
		Responses:     []protocol.ShareFetchResponseShareFetchableTopicResponse{},
		NodeEndpoints: []protocol.ShareFetchResponseNodeEndpoint{},
	}
	fail := func(code int16, msg string) (*protocol.ShareFetchResponse, error) {
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
	hasAcks := false
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			hasAcks = hasAcks || len(p.AcknowledgementBatches) > 0
		}
	}
	switch {
	case req.ShareSessionEpoch == 0 && hasAcks:
		return fail(errcode.InvalidRequest, "Acknowledge data present on initial fetch.")
	case req.ShareSessionEpoch == -1 && len(req.ForgottenTopicsData) > 0:
		return fail(errcode.InvalidRequest, "Final share fetch request cannot remove partitions.")
	}
	sess, code := sh.session(groupID, member, req.ShareSessionEpoch, true)
	if code != 0 {
		return fail(code, "")
	}
	defer sess.mu.Unlock()
	if req.ShareSessionEpoch == 0 {
		// The connection closes the member's session; a session it
		// replaced is no longer its to close.
		kept := rc.c.shareSessions[:0]
		for _, s := range rc.c.shareSessions {
			if s.key != sess.key {
				kept = append(kept, s)
			}
		}
		rc.c.shareSessions = append(kept, sess)
	}
	final := req.ShareSessionEpoch == -1

	img := sh.b.image.Load()
	reads := map[shareTP]*shareRead{}
	var order []shareTP
	readFor := func(tp shareTP) *shareRead {
		if r := reads[tp]; r != nil {
			return r
		}
		r := &shareRead{tp: tp}
		reads[tp] = r
		order = append(order, tp)
		sh.resolve(ctx, img, groupID, r, req.ShareSessionEpoch == 0)
		return r
	}
	topicAllowed := map[protocol.UUID]bool{}
	authorized := func(r *shareRead) bool {
		if r.code == errcode.UnknownTopicID || r.topic == "" {
			return true
		}
		ok, seen := topicAllowed[r.tp.topicID]
		if !seen {
			ok = sh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, r.topic)
			topicAllowed[r.tp.topicID] = ok
		}
		if !ok {
			r.sp, r.code = nil, errcode.TopicAuthorizationFailed
		}
		return ok
	}
	// Session membership first, then acknowledgements.
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := shareTP{t.TopicID, p.PartitionIndex}
			if !final {
				sess.add(tp)
			}
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			r := readFor(tp)
			authorized(r)
			batches := make([]ackBatch, len(p.AcknowledgementBatches))
			for i, b := range p.AcknowledgementBatches {
				batches[i] = ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes}
			}
			r.acked = true
			r.ackCode = sh.acknowledge(ctx, r, member, batches, rc.v >= 2)
		}
	}
	for _, t := range req.ForgottenTopicsData {
		for _, p := range t.Partitions {
			sess.forget(shareTP{t.TopicID, p})
		}
	}
	if final {
		sh.releaseIn(groupID, member, sess.order)
	} else if !req.IsRenewAck {
		sh.fetchSession(ctx, rc, req, sess, member, readFor, authorized)
	}

	byTopic := map[protocol.UUID]int{}
	for _, tp := range order {
		r := reads[tp]
		if req.ShareSessionEpoch > 0 && r.code == 0 && !r.acked && len(r.acquired) == 0 {
			continue // as Kafka: a later fetch answers only partitions with news
		}
		pd := protocol.ShareFetchResponsePartitionData{
			PartitionIndex: tp.partition, ErrorCode: r.code, Records: r.records,
			AcquiredRecords: []protocol.ShareFetchResponseAcquiredRecords{},
		}
		if r.code == errcode.NotLeaderOrFollower || r.code == errcode.FencedLeaderEpoch {
			pd.CurrentLeader = protocol.ShareFetchResponseLeaderIDAndEpoch{LeaderID: r.leader, LeaderEpoch: r.epoch}
			if r.p == nil {
				pd.CurrentLeader = protocol.ShareFetchResponseLeaderIDAndEpoch{LeaderID: -1, LeaderEpoch: -1}
			}
		}
		if r.acked {
			pd.AcknowledgeErrorCode = r.ackCode
			if r.ackCode == r.code {
				pd.ErrorCode = r.code
			}
		}
		if pd.Records == nil {
			pd.Records = []byte{}
		}
		for _, a := range r.acquired {
			pd.AcquiredRecords = append(pd.AcquiredRecords, protocol.ShareFetchResponseAcquiredRecords{
				FirstOffset: a.FirstOffset, LastOffset: a.LastOffset, DeliveryCount: a.DeliveryCount,
			})
		}
		if r.code == errcode.NotLeaderOrFollower && r.leader >= 0 {
			resp.NodeEndpoints = sh.addEndpoint(rc, resp.NodeEndpoints, r.leader)
		}
		i, ok := byTopic[tp.topicID]
		if !ok {
			i = len(resp.Responses)
			byTopic[tp.topicID] = i
			resp.Responses = append(resp.Responses, protocol.ShareFetchResponseShareFetchableTopicResponse{TopicID: tp.topicID})
		}
		resp.Responses[i].Partitions = append(resp.Responses[i].Partitions, pd)
	}
	return resp, nil
}

// fetchSession acquires records for member over the session's partitions,
// waiting up to MaxWaitMs while none are acquired.
func (sh *shareHandlers) fetchSession(ctx context.Context, rc *reqCtx, req *protocol.ShareFetchRequest, sess *shareSession,
	member string, readFor func(shareTP) *shareRead, authorized func(*shareRead) bool) {
	var parts []*shareRead
	for _, tp := range sess.order {
		r := readFor(tp)
		if authorized(r) {
			parts = append(parts, r)
		}
	}
	maxRecords := int(req.MaxRecords)
	if maxRecords <= 0 {
		maxRecords = 500
	}
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 50 << 20
	}
	batchAligned := req.ShareAcquireMode == 0
	readCommitted := sh.b.image.Load().Config(resourceGroup, string(*req.GroupID))["share.isolation.level"] == "read_committed"
	cfg := sh.config()
	deadline := time.Now().Add(time.Duration(req.MaxWaitMs) * time.Millisecond)
	var wake chan struct{}
	for {
		got, anyErr := 0, false
		for _, r := range parts {
			if r.code != 0 {
				anyErr = true
				continue
			}
			if got >= maxRecords || len(r.records) >= maxBytes {
				break
			}
			sh.acquire(r, member, maxRecords-got, maxBytes, batchAligned, readCommitted)
			got += acquiredCount(r.acquired)
			maxBytes -= len(r.records)
		}
		if got > 0 || anyErr || ctx.Err() != nil {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if wake == nil {
			wake = make(chan struct{}, 1)
			for _, r := range parts {
				if r.p != nil {
					r.p.WatchFetch(wake, false)
					defer r.p.UnwatchFetch(wake, false)
				}
			}
			continue // look again once watching, so no append is missed
		}
		// A lock that expires before the deadline makes records available.
		for _, r := range parts {
			if r.sp != nil {
				if e := r.sp.NextLockExpiry(); !e.IsZero() {
					left = min(left, max(e.Sub(cfg.Now()), time.Millisecond))
				}
			}
		}
		t := time.NewTimer(left)
		waited := rc.waiting()
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		waited()
		t.Stop()
	}
	for _, r := range parts {
		if r.sp != nil {
			sh.persist(ctx, r.key, r.sp) // redeliveries moved delivery counts
		}
	}
}

// addEndpoint adds broker id's endpoint on the request's listener once,
// when it is a live broker (KIP-951).
func (sh *shareHandlers) addEndpoint(rc *reqCtx, eps []protocol.ShareFetchResponseNodeEndpoint, id int32) []protocol.ShareFetchResponseNodeEndpoint {
	for _, e := range eps {
		if int32(e.NodeID) == id {
			return eps
		}
	}
	ep, ok := sh.b.liveEndpoint(id, rc.c.listener)
	if !ok {
		return eps
	}
	return append(eps, protocol.ShareFetchResponseNodeEndpoint{NodeID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack})
}
