package server

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Fetch (key 1): versions 4-18.
//
// Behaviour:
//   - Consumers (ReplicaID -1) read up to the high watermark, or the last
//     stable offset under read_committed with the overlapping aborted
//     transactions listed; followers read up to the log end and their fetch
//     records their progress for the ISR and high watermark (replication).
//   - The request waits until MinBytes are available, an error occurs, or
//     MaxWaitMs passes, woken by appends and high watermark moves
//     (Partition.WatchFetch); a replica fetch also wakes, and parks at most
//     20 ms for a second, when this broker starts leading a partition
//     (leadership_gains.go). MaxBytes and PartitionMaxBytes bound the
//     response, but the first partition with data returns at least one
//     whole batch (KIP-74).
//   - Incremental fetch sessions (KIP-227) are kept in a cache of
//     max.incremental.fetch.session.cache.slots (fetch_session.go). A
//     session's fetch reads only the partitions that changed since its last
//     answer (replication.ChangeFeed), those the request names and those
//     with something still to send, and parks on the feed: an idle
//     follower session costs in proportion to what changed, not to its
//     size (Kafka reads every partition of the session, then leaves the
//     unchanged ones out of the answer; the answers are the same).
//   - Fetch from follower (KIP-392): a consumer's fetch from v11 may be
//     served by any replica, a follower reading up to its own high
//     watermark (last stable offset for read_committed) and answering
//     OFFSET_OUT_OF_RANGE past its log end; with replica.selector.class
//     set, the leader answers a consumer whose preferred read replica
//     (for the rack it sent) is another in-sync replica with that replica
//     and the leader's offsets, without records, at once. Older consumers
//     and replicas read from leaders only. ListOffsets stays at leaders.
//   - Leader epochs are checked (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH),
//     and a fetcher whose LastFetchedEpoch ended earlier here is told where
//     to truncate (DivergingEpoch) without data.
//   - Records are never copied into the response: the segment regions are
//     pinned and sent with sendfile(2) (response.go). Records is never null,
//     which librdkafka relies on.
//   - Authorization (authz.go): READ on each topic; a follower fetch needs
//     CLUSTER_ACTION on the cluster (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v4: IsolationLevel, LastStableOffset and AbortedTransactions. v5:
//     LogStartOffset. v7: fetch sessions. v9: CurrentLeaderEpoch (KIP-320).
//   - v10: zstd batches may be returned. v12: flexible, LastFetchedEpoch and
//     DivergingEpoch, CurrentLeader. v13: topic IDs (UNKNOWN_TOPIC_ID).
//   - v15: ReplicaState replaces ReplicaID (KIP-903). v16: NodeEndpoints.
//   - v17: ReplicaDirectoryId (KIP-853). v18: the follower's HighWatermark
//     (KIP-1166).
//
// Where Spool differs from Kafka 4.3:
//   - No tiered storage, so never OFFSET_MOVED_TO_TIERED_STORAGE.
//   - ReplicaDirectoryId and the follower's HighWatermark are ignored.
//   - A full session cache evicts the least recently used session; Kafka
//     weighs privileged (follower) sessions, size and age.

// Isolation levels of Fetch and ListOffsets.
const (
	readUncommitted = 0
	readCommitted   = 1
)

// fetchRead is one partition's share of a fetch in progress.
type fetchRead struct {
	fp      *fetchPartition
	p       *replication.Partition
	topic   string
	code    int16
	res     storage.ReadResult
	lso     int64
	leader  int32 // leader reported in errors (this replica's view)
	current int32 // leader epoch reported in errors
	// aborted lists, for read_committed, the aborted transactions that
	// overlap the data read.
	aborted []storage.AbortedTxn
	// diverging, for a fetcher whose last fetched epoch ended earlier
	// here, is where (it must truncate).
	diverging *replication.EpochEndOffset
	// throttled: a follower's read under the leader replication quota.
	throttled bool
	// quietMs, for a partition of a follower's session that was quiet,
	// is when the session last skipped it (ReadOptions.QuietFetchMs).
	quietMs int64
	// preferred, when hasPreferred, is the replica the consumer should
	// fetch from instead (KIP-392): res and lso hold the leader's offsets,
	// without records.
	preferred    int32
	hasPreferred bool
}

// quiet reports whether the read found nothing for its partition: no
// error, no divergence, no records and nothing readable past the fetch
// offset (the log end for a follower, the high watermark or last stable
// offset for a consumer). Throttled or size-capped reads found records
// they did not take, so they are not quiet.
func (r *fetchRead) quiet(replica bool, isolation int8) bool {
	if r.p == nil || r.code != 0 || r.diverging != nil || r.hasPreferred || r.res.Size > 0 {
		return false
	}
	end := r.res.HighWatermark
	switch {
	case replica:
		end = r.res.LogEndOffset
	case isolation == readCommitted:
		end = r.lso
	}
	return r.fp.fetchOffset >= end
}

// fetcher is who sends a Fetch: a consumer (replicaID -1) or a follower
// replica and its broker epoch (-1 before v15).
type fetcher struct {
	replicaID   int32
	brokerEpoch int64
	isolation   int8
	// client is a consumer's metadata from v11 (its rack), when hasClient:
	// it may read from any replica and be sent to a preferred read replica
	// (KIP-392). Followers and older consumers read from leaders only.
	client    replication.ClientMetadata
	hasClient bool
}

// anyReplica: the fetcher may read from followers (Kafka's fetchOnlyLeader
// false).
func (w fetcher) anyReplica() bool { return w.hasClient }

func (b *Broker) handleFetch(ctx context.Context, rc *reqCtx, req *protocol.FetchRequest) (*protocol.FetchResponse, error) {
	resp := &protocol.FetchResponse{}
	// A follower reads to the log end and its fetch records its progress
	// (replication.Partition.Read); a consumer reads to the high watermark.
	who := fetcher{replicaID: int32(req.ReplicaID), brokerEpoch: -1, isolation: req.IsolationLevel}
	if rc.v >= 15 {
		who.replicaID, who.brokerEpoch = int32(req.ReplicaState.ReplicaID), req.ReplicaState.ReplicaEpoch
	}
	replica := who.replicaID >= 0
	if !replica && rc.v >= 11 {
		who.client, who.hasClient = replication.ClientMetadata{RackID: req.RackID, ListenerName: rc.c.listener}, true
	}
	plan, code := b.fetchSessions.plan(req, rc.v, replica)
	if code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	s := plan.session
	if s != nil {
		// plan holds s.mu only during planning; hold it for the whole fetch
		// so concurrent fetches in one session don't interleave epochs.
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	resp.SessionID = plan.sessionID

	maxWait := time.Duration(req.MaxWaitMs) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	maxBytes := int(req.MaxBytes)
	if rc.v < 3 || maxBytes <= 0 {
		maxBytes = int(^uint(0) >> 1)
	}
	maxBytes = rc.fetchMaxBytes(maxBytes, who.replicaID) // consumer_byte_rate (quotas.go)
	minBytes := min(int(req.MinBytes), maxBytes)
	img := b.image.Load()
	var reads []fetchRead
	if s != nil {
		reads = b.sessionReads(rc, img, s, plan, who)
	} else {
		reads = make([]fetchRead, len(plan.parts))
		for i, fp := range plan.parts {
			reads[i] = fetchRead{fp: fp}
			b.resolveFetch(img, rc.v, who.anyReplica(), &reads[i])
		}
		b.authorizeFetch(rc, replica, reads)
	}

	var wake chan struct{}
	rc.replicaFetch = replica
	for {
		var gained <-chan struct{}
		if replica {
			// A new leadership here wakes the park (leadership_gains.go).
			gained = b.leaderGains.watch()
			deadline = b.leaderGains.parkUntil(time.Now(), deadline)
		}
		total, anyErr := b.readAll(reads, maxBytes, who)
		if total >= minBytes || anyErr || maxWait <= 0 || ctx.Err() != nil {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if s != nil {
			// The feed has watched every partition since before it was
			// read: park until one is marked, then read what was.
			t := time.NewTimer(left)
			waited := rc.waiting() // not request handler time
			woke := false
			select {
			case <-s.feed.Changed():
				woke = true
			case <-t.C:
			case <-ctx.Done():
			case <-gained:
			}
			waited()
			t.Stop()
			if woke {
				reads = b.addMarkedReads(rc, img, s, reads, who)
			}
			continue
		}
		if wake == nil {
			wake = make(chan struct{}, 1)
		}
		for i := range reads {
			if reads[i].p != nil {
				reads[i].p.WatchFetch(wake, replica)
			}
		}
		// Read again once watching: an append or high watermark move
		// between the read and the registration would wake no one.
		if total, anyErr = b.readAll(reads, maxBytes, who); total < minBytes && !anyErr {
			t := time.NewTimer(left)
			waited := rc.waiting() // not request handler time
			select {
			case <-wake:
			case <-t.C:
			case <-ctx.Done():
			case <-gained:
			}
			waited()
			t.Stop()
		}
		for i := range reads {
			if reads[i].p != nil {
				reads[i].p.UnwatchFetch(wake, replica)
			}
		}
		if total >= minBytes || anyErr {
			break
		}
	}
	if s != nil {
		// Until the response says otherwise, everything read stays busy
		// (a throttled response sends none of it).
		s.busy = s.busy[:0]
		for i := range reads {
			s.busy = append(s.busy, reads[i].fp)
		}
	}
	if rc.throttleFetch(fetchResponseSize(reads)) {
		// Kafka's getThrottledResponse: no partitions; a session this
		// fetch would have opened is not opened.
		if plan.session != nil && !plan.incremental {
			b.fetchSessions.remove(plan.session.id)
			resp.SessionID = 0
		}
		return resp, nil
	}
	if replica {
		// The leader's replication quota counts what throttled replicas
		// are sent, once per response (Kafka's quotas.leader.record).
		n := 0
		for i := range reads {
			if reads[i].throttled && reads[i].code == 0 {
				n += reads[i].res.Size
			}
		}
		b.leaderThrottle.Record(n)
	}
	b.buildFetchResponse(rc, resp, reads, plan.incremental, req.IsolationLevel)
	if s != nil {
		s.busy = s.busy[:0]
		for i := range reads {
			if reads[i].fp.quiet = reads[i].quiet(replica, req.IsolationLevel); !reads[i].fp.quiet {
				s.busy = append(s.busy, reads[i].fp)
			}
		}
	}
	return resp, nil
}

// sessionReads picks what a fetch in session s reads (fetch_session.go):
// the partitions the request names, those the feed marked, those the last
// response left busy; every partition when the session is new, the
// metadata image changed or the feed is of the other kind. s.mu held.
func (b *Broker) sessionReads(rc *reqCtx, img *controller.MetadataImage, s *fetchSession, plan fetchPlan, who fetcher) []fetchRead {
	replica := who.replicaID >= 0
	s.fetches++
	all := !plan.incremental || s.img != img || s.feed.Replica() != replica
	s.img = img
	prev, now := s.lastDrainMs, b.replicas.NowMs()
	marked := s.feed.Drain(nil)
	s.lastDrainMs = now
	var reads []fetchRead
	pick := func(fp *fetchPartition, quietMs int64) {
		if fp.removed || fp.picked == s.fetches {
			return
		}
		fp.picked = s.fetches
		r := fetchRead{fp: fp}
		if replica && fp.quiet {
			r.quietMs = quietMs
		}
		fp.quiet = false
		reads = append(reads, r)
	}
	if all {
		reads = make([]fetchRead, 0, len(s.parts))
		for _, fp := range s.parts {
			pick(fp, prev)
		}
	} else {
		for _, fp := range plan.named {
			pick(fp, prev)
		}
		for _, p := range marked {
			if fp := s.byPartition[p]; fp != nil {
				pick(fp, prev)
			}
		}
		for _, fp := range s.busy {
			pick(fp, 0)
		}
	}
	b.prepareSessionReads(rc, img, s, reads, who)
	return reads
}

// addMarkedReads adds to reads the partitions the feed marked that are not
// among them yet (those that are get read again anyway). s.mu held.
func (b *Broker) addMarkedReads(rc *reqCtx, img *controller.MetadataImage, s *fetchSession, reads []fetchRead, who fetcher) []fetchRead {
	replica := who.replicaID >= 0
	prev, now := s.lastDrainMs, b.replicas.NowMs()
	marked := s.feed.Drain(nil)
	s.lastDrainMs = now
	n := len(reads)
	for _, p := range marked {
		fp := s.byPartition[p]
		if fp == nil || fp.removed || fp.picked == s.fetches {
			continue
		}
		fp.picked = s.fetches
		r := fetchRead{fp: fp}
		if replica && fp.quiet {
			r.quietMs = prev
		}
		fp.quiet = false
		reads = append(reads, r)
	}
	b.prepareSessionReads(rc, img, s, reads[n:], who)
	return reads
}

// prepareSessionReads resolves and authorizes reads and has the session's
// feed watch the partitions they resolved to (before they are read, so a
// change after the read is marked). s.mu held.
func (b *Broker) prepareSessionReads(rc *reqCtx, img *controller.MetadataImage, s *fetchSession, reads []fetchRead, who fetcher) {
	for i := range reads {
		b.resolveFetch(img, rc.v, who.anyReplica(), &reads[i])
	}
	b.authorizeFetch(rc, who.replicaID >= 0, reads)
	for i := range reads {
		r := &reads[i]
		// An unauthorized read has p cleared; keep the old watch until
		// the partition resolves to another one.
		p := r.p
		if p == nil || p == r.fp.p {
			continue
		}
		if old := r.fp.p; old != nil {
			if s.byPartition[old] == r.fp {
				delete(s.byPartition, old)
			}
			s.feed.Unwatch(old)
		}
		r.fp.p = p
		s.byPartition[p] = r.fp
		s.feed.Watch(p)
	}
}

// fetchResponseSize is about the size of the response the reads make: the
// records, plus each partition's fixed fields (Kafka meters the whole
// response against consumer_byte_rate).
func fetchResponseSize(reads []fetchRead) int {
	n := 32
	for i := range reads {
		n += 64 + len(reads[i].topic)
		if reads[i].p != nil && reads[i].code == 0 {
			n += reads[i].res.Size
		}
	}
	return n
}

// resolveFetch finds the partition a fetch names and checks leadership (or,
// with anyReplica, that this broker hosts a replica) and epochs; problems go
// to r.code.
func (b *Broker) resolveFetch(img *controller.MetadataImage, v int16, anyReplica bool, r *fetchRead) {
	k := r.fp.key
	if v >= 13 {
		t := img.TopicByID(topicIDOf(k.topicID))
		if t == nil {
			r.code = errcode.UnknownTopicID
			return
		}
		r.topic = t.Name
	} else {
		r.topic = k.topic
	}
	r.p = b.partition(r.topic, k.partition)
	if r.p == nil {
		r.code = b.missingPartitionCode(r.topic, k.partition)
		return
	}
	if anyReplica {
		var err error
		if r.current, err = r.p.CheckReplica(r.fp.leaderEpoch); err != nil {
			r.code = replicationErrorCode(err)
		}
	} else {
		r.current, r.code = leaderCheck(r.p, r.fp.leaderEpoch)
	}
	if r.code != 0 {
		r.leader, r.current = r.p.Leader()
	}
}

// authorizeFetch is Kafka's check of a Fetch: a consumer needs READ on each
// topic, a follower CLUSTER_ACTION on the cluster; a refused partition
// answers TOPIC_AUTHORIZATION_FAILED before its existence is considered.
// One authorizer call per topic.
func (b *Broker) authorizeFetch(rc *reqCtx, follower bool, reads []fetchRead) {
	if b.authz == nil {
		return
	}
	clusterAction := follower && b.authorizeCluster(rc, acl.OpClusterAction)
	allowed := map[string]bool{}
	for i := range reads {
		r := &reads[i]
		if r.code == errcode.UnknownTopicID {
			continue
		}
		ok := clusterAction
		if !follower {
			var seen bool
			if ok, seen = allowed[r.topic]; !seen {
				ok = b.authorize(rc, acl.OpRead, acl.ResourceTopic, r.topic)
				allowed[r.topic] = ok
			}
		}
		if !ok {
			r.p, r.code = nil, errcode.TopicAuthorizationFailed
		}
	}
}

// readAll locates the data each partition would return now, without reading
// it, and returns the total size and whether any partition has an error.
// The first partition with data may exceed the limits by one batch (KIP-74).
func (b *Broker) readAll(reads []fetchRead, maxBytes int, who fetcher) (int, bool) {
	total := 0
	anyErr := false
	// The leader may send a consumer elsewhere (KIP-392): one view of the
	// brokers serves every partition of the round.
	var endpoint replication.Endpoint
	if who.hasClient && b.replicaSelector != nil {
		endpoint = b.readReplicaEndpoint(who.client.ListenerName)
	}
	for i := range reads {
		r := &reads[i]
		if r.p == nil || (r.code != 0 && r.code != errcode.OffsetOutOfRange) {
			anyErr = anyErr || r.code != 0
			continue
		}
		r.code, r.hasPreferred = 0, false
		if endpoint != nil {
			// The leader may send the consumer elsewhere, at once and
			// without records (Kafka's findPreferredReadReplica).
			id, snap := r.p.PreferredReadReplica(b.replicaSelector, who.client, r.fp.fetchOffset, r.fp.leaderEpoch, endpoint)
			if id >= 0 {
				r.preferred, r.hasPreferred = id, true
				r.res = storage.ReadResult{HighWatermark: snap.HighWatermark, LogStartOffset: snap.LogStartOffset, LogEndOffset: snap.LogEndOffset}
				r.lso, r.aborted, r.diverging, r.throttled = snap.LastStableOffset, nil, nil, false
				anyErr = true // answer at once, as Kafka does
				continue
			}
		}
		limit := int(r.fp.maxBytes)
		if rest := maxBytes - total; rest < limit {
			limit = rest
		}
		if limit < 0 {
			limit = 0
		}
		info, err := r.p.Read(replication.ReadOptions{
			FetchOffset: r.fp.fetchOffset, MaxBytes: limit, MinOneBatch: total == 0,
			Isolation: replication.Isolation(who.isolation), ReplicaID: who.replicaID, BrokerEpoch: who.brokerEpoch,
			LogStartOffset: r.fp.logStartOffset, CurrentLeaderEpoch: r.fp.leaderEpoch, LastFetchedEpoch: r.fp.lastFetchEpoch,
			QuietFetchMs: r.quietMs, AnyReplica: who.anyReplica(),
		})
		r.quietMs = 0 // once
		r.res, r.lso, r.aborted, r.diverging, r.throttled = info.ReadResult, info.LastStableOffset, info.Aborted, info.DivergingEpoch, info.Throttled
		if err != nil {
			switch r.code = replicationErrorCode(err); r.code {
			case errcode.OffsetOutOfRange:
			case errcode.FencedLeaderEpoch, errcode.UnknownLeaderEpoch, errcode.NotLeaderOrFollower:
				r.leader, r.current = r.p.Leader()
			default:
				r.code = errcode.KafkaStorageError
				b.logger.Sugar().Warnw("fetch read failed", "topic", r.topic, "partition", r.fp.key.partition, "error", err)
			}
			anyErr = true
			continue
		}
		if r.diverging != nil {
			anyErr = true // answer at once: the fetcher must truncate
			continue
		}
		total += r.res.Size
	}
	return total, anyErr
}

// buildFetchResponse fills the response with the located data. Records are
// not copied: each partition's regions are pinned and handed to the
// connection's writer through rc.records, which sends them from the segment
// files (see response.go). An incremental session response carries only
// partitions with news.
//
// The nullable fields are filled as Kafka 4.3 fills them, which clients
// depend on (librdkafka rejects a null record set as a parse failure and
// never reaches partition EOF):
//   - Records is never null: a partition without data (caught up, empty,
//     only aborted data under read_committed, any error) gets an empty
//     record set, at every version.
//   - AbortedTransactions is an empty list rather than null for a
//     read_committed read without aborted transactions and for the errors
//     Kafka answers before reading (unknown topic, partition or topic ID);
//     it is null for read_uncommitted and for errors met while reading
//     (offset out of range, leader epoch, not leader, storage), which also
//     carry -1 for the high watermark and the offsets, as Kafka's
//     ReplicaManager reports a failed read.
func (b *Broker) buildFetchResponse(rc *reqCtx, resp *protocol.FetchResponse, reads []fetchRead, incremental bool, isolation int8) {
	// The encoded part is tens of bytes a partition; records go out of line.
	rc.respSize = 64*len(reads) + 256
	// places[i] is where the partition whose records are rc.records[i]
	// sits in the response. Pinned regions go to rc.records at once, so
	// they are unpinned whatever happens next.
	var places []recordsPlace
	byTopic := map[fetchTopicKey]int{}
	for i := range reads {
		r := &reads[i]
		pd := protocol.FetchResponsePartitionData{
			PartitionIndex:       r.fp.key.partition,
			ErrorCode:            r.code,
			HighWatermark:        -1,
			LastStableOffset:     -1,
			LogStartOffset:       -1,
			PreferredReadReplica: -1,
		}
		pd.DivergingEpoch.Epoch, pd.DivergingEpoch.EndOffset = -1, -1
		if r.diverging != nil && r.code == 0 {
			pd.DivergingEpoch.Epoch, pd.DivergingEpoch.EndOffset = r.diverging.Epoch, r.diverging.EndOffset
		}
		pd.CurrentLeader.LeaderID, pd.CurrentLeader.LeaderEpoch = -1, -1
		pd.SnapshotID.EndOffset, pd.SnapshotID.Epoch = -1, -1
		hasRecords := false
		switch r.code {
		case errcode.UnknownTopicOrPartition, errcode.UnknownTopicID:
			pd.AbortedTransactions = []protocol.FetchResponseAbortedTransaction{}
		}
		if r.hasPreferred && r.code == 0 && rc.v >= 11 {
			pd.PreferredReadReplica = protocol.BrokerID(r.preferred)
		}
		if r.p != nil && r.code == 0 {
			pd.HighWatermark = r.res.HighWatermark
			pd.LastStableOffset = r.lso
			pd.LogStartOffset = r.res.LogStartOffset
			if isolation == readCommitted {
				pd.AbortedTransactions = []protocol.FetchResponseAbortedTransaction{}
			}
			// A segment closed since readAll (truncated, or the log
			// closed) fails the pin: the partition goes without records
			// and the client fetches again.
			if r.diverging == nil && r.res.Size > 0 && r.res.Pin() {
				hasRecords = true
				rc.records = append(rc.records, outRecords{regions: r.res.Regions, size: r.res.Size})
				b.metrics.fetched(r.p.Topic(), int64(r.res.Size), rc.replicaFetch)
				for _, a := range r.aborted {
					pd.AbortedTransactions = append(pd.AbortedTransactions, protocol.FetchResponseAbortedTransaction{
						ProducerID: protocol.ProducerID(a.ProducerID), FirstOffset: a.FirstOffset,
					})
				}
			}
		}
		// Kafka names the current leader from v16 for these two errors
		// only, not for UNKNOWN_LEADER_EPOCH (the client is ahead of this
		// broker): the leader this replica knows (on a follower, another
		// broker), or the metadata's on a broker without a replica, with
		// its endpoint when it is a live broker (KIP-951).
		if rc.v >= 16 && (r.code == errcode.FencedLeaderEpoch || r.code == errcode.NotLeaderOrFollower) {
			if r.p == nil {
				r.leader, r.current = b.metadataLeader(r.topic, r.fp.key.partition)
			}
			if r.leader >= 0 {
				pd.CurrentLeader.LeaderID, pd.CurrentLeader.LeaderEpoch = protocol.BrokerID(r.leader), r.current
				if !slices.ContainsFunc(resp.NodeEndpoints, func(e protocol.FetchResponseNodeEndpoint) bool { return int32(e.NodeID) == r.leader }) {
					if ep, ok := b.liveEndpoint(r.leader, rc.c.listener); ok {
						resp.NodeEndpoints = append(resp.NodeEndpoints, protocol.FetchResponseNodeEndpoint{NodeID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack})
					}
				}
			}
		}
		if incremental && pd.ErrorCode == 0 && !hasRecords && r.diverging == nil && !r.hasPreferred &&
			pd.HighWatermark == r.fp.sentHW && pd.LastStableOffset == r.fp.sentLSO && pd.LogStartOffset == r.fp.sentLogStart {
			continue
		}
		r.fp.sentHW, r.fp.sentLSO, r.fp.sentLogStart = pd.HighWatermark, pd.LastStableOffset, pd.LogStartOffset
		if !hasRecords {
			pd.Records = []byte{}
		}
		k := fetchTopicKey{r.fp.key.topic, r.fp.key.topicID}
		ti, ok := byTopic[k]
		if !ok {
			ti = len(resp.Responses)
			byTopic[k] = ti
			resp.Responses = append(resp.Responses, protocol.FetchResponseFetchableTopicResponse{
				Topic: protocol.TopicName(r.fp.key.topic), TopicID: r.fp.key.topicID,
			})
		}
		if hasRecords {
			places = append(places, recordsPlace{ti, len(resp.Responses[ti].Partitions)})
		}
		resp.Responses[ti].Partitions = append(resp.Responses[ti].Partitions, pd)
	}
	if len(places) == 0 {
		return
	}
	// Put rc.records in encoding order: topic by topic, and within a topic
	// in the order partitions were added.
	sort.Stable(byPlace{places, rc.records})
	rc.markRecords = func(empty bool) {
		var m []byte
		if empty {
			m = []byte{}
		}
		for _, w := range places {
			resp.Responses[w.topic].Partitions[w.partition].Records = m
		}
	}
}

// metadataLeader is a partition's leader and leader epoch as the metadata
// image says (-1, -1 when it is unknown).
func (b *Broker) metadataLeader(topic string, partition int32) (int32, int32) {
	t := b.image.Load().Topic(topic)
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return -1, -1
	}
	p := t.Partitions[partition]
	return p.Leader, p.LeaderEpoch
}

// readReplicaEndpoint describes brokers for a consumer on listener, as the
// replica selector sees them: alive (registered, not fenced) with an
// endpoint there, and their rack.
func (b *Broker) readReplicaEndpoint(listener string) replication.Endpoint {
	img := b.image.Load()
	return func(id int32) (*string, bool) {
		br := img.Broker(id)
		if br == nil || br.Fenced {
			return nil, false
		}
		if _, ok := br.Endpoint(listener); !ok {
			return nil, false
		}
		return br.Rack, true
	}
}

// recordsPlace locates a partition in a FetchResponse: indexes into
// Responses and its Partitions.
type recordsPlace struct{ topic, partition int }

// byPlace sorts records and their places by topic.
type byPlace struct {
	places  []recordsPlace
	records []outRecords
}

func (p byPlace) Len() int           { return len(p.places) }
func (p byPlace) Less(i, j int) bool { return p.places[i].topic < p.places[j].topic }
func (p byPlace) Swap(i, j int) {
	p.places[i], p.places[j] = p.places[j], p.places[i]
	p.records[i], p.records[j] = p.records[j], p.records[i]
}

type fetchTopicKey struct {
	name string
	id   protocol.UUID
}

func topicIDOf(u protocol.UUID) controller.TopicID { return controller.TopicID(u) }
