package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
)

// Produce (key 0): versions 0-13.
//
// Behaviour:
//   - Each partition must be led here (else NOT_LEADER_OR_FOLLOWER, or
//     UNKNOWN_TOPIC_OR_PARTITION for a partition the metadata lacks). Acks
//     other than 0, 1 and -1 get INVALID_REQUIRED_ACKS on every partition.
//   - min.insync.replicas is checked for acks=-1 before the records are
//     looked at (NOT_ENOUGH_REPLICAS, no message), and again under the
//     partition lock in AppendAsLeader.
//   - A partition's records are checked as Kafka's LogValidator checks them:
//     exactly one v2 batch from v3 on, sizes against max.message.bytes and
//     segment.bytes, CRC and structure (CORRUPT_MESSAGE), no control
//     batches, a sequence with every producer id, then each record (KIP-467,
//     see produce_validate.go). LogAppendTime topics get the broker's time.
//   - Idempotent and transactional batches are deduplicated and sequenced by
//     the log's producer state; a retried batch is answered with its original
//     offset. Transactional batches are verified with (v3-v11, unless
//     transaction.partition.verification.enable=false) or added to (v12+)
//     the producer's transaction first (txn_verify.go).
//   - acks=0 sends no response. acks=-1 answers once the high watermark
//     covers every appended partition or TimeoutMs passes (REQUEST_TIMED_OUT
//     for those left, as Kafka's DelayedProduce).
//   - The body is read off the connection by the handler and each partition
//     is appended as soon as its records are in (conn_body.go); a malformed
//     body closes the connection.
//   - Authorization (authz.go): WRITE on each topic
//     (TOPIC_AUTHORIZATION_FAILED) and on the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition), the
//     streamed body included.
//
// Version notes:
//   - v0-v2: message format v0/v1 only; v2 adds LogAppendTimeMs.
//   - v3: message format v2 and TransactionalID; one batch per partition.
//   - v5: LogStartOffset in the response. v7: zstd (older versions get
//     UNSUPPORTED_COMPRESSION_TYPE).
//   - v8: ErrorMessage and RecordErrors (KIP-467). v9: flexible.
//   - v10: CurrentLeader/NodeEndpoints tags (KIP-951). v11: may answer
//     TRANSACTION_ABORTABLE (older versions get INVALID_TXN_STATE instead).
//   - v12: a transactional produce adds its partition to the transaction
//     (KIP-890 part 2). v13: topics named by ID (UNKNOWN_TOPIC_ID).
//
// Where Spool differs from Kafka 4.3:
//   - Versions 0-2 are served, their v0/v1 message sets up-converted to v2;
//     Kafka 4 advertises them but rejects them.

func (b *Broker) handleProduce(ctx context.Context, rc *reqCtx, req *protocol.ProduceRequest) (*protocol.ProduceResponse, error) {
	b.catchUpForProduce(ctx, rc.v, req)
	pc := b.newProduceCall(rc, req.TransactionalID, req.Acks)
	for _, td := range req.TopicData {
		t := pc.topic(td.Name, td.TopicID)
		for _, pd := range td.PartitionData {
			t.partition(ctx, pd.Index, pd.Records)
		}
		pc.endTopic(t)
	}
	rc.recordProduce(req.Acks) // producer_byte_rate (quotas.go)
	if req.Acks == 0 {
		return nil, nil
	}
	pc.awaitAcks(ctx, req.TimeoutMs)
	pc.nameCurrentLeaders()
	return pc.resp, nil
}

// handleProduceBody answers a Produce request whose body the handler reads
// off the connection (see conn_body.go): each partition is validated and
// appended as soon as its records are in. An error means the body could not
// be read or is malformed; the connection closes.
func (b *Broker) handleProduceBody(ctx context.Context, rc *reqCtx, body *protocol.ProduceReader) (protocol.Response, error) {
	c := rc.c
	c.extendReadDeadline()
	head, err := body.Head()
	if err != nil {
		return nil, err
	}
	pc := b.newProduceCall(rc, head.TransactionalID, head.Acks)
	// One pooled buffer holds each partition's records in turn: nothing
	// keeps them once appended.
	var buf *[]byte
	defer func() {
		if buf != nil {
			c.s.putFrame(buf)
		}
	}()
	recordsBuf := func(n int) []byte {
		if buf == nil || cap(*buf) < n {
			if buf != nil {
				c.s.putFrame(buf)
			}
			buf = c.s.getFrame(n)
		}
		return (*buf)[:n]
	}
	for {
		td, ok, err := body.NextTopic()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		t := pc.topic(td.Name, td.TopicID)
		for range td.Partitions {
			c.extendReadDeadline()
			index, recs, err := body.NextPartition(recordsBuf)
			if err != nil {
				return nil, err
			}
			t.partition(ctx, index, recs)
		}
		pc.endTopic(t)
	}
	if err := body.Finish(); err != nil {
		return nil, err
	}
	rc.recordProduce(head.Acks) // producer_byte_rate (quotas.go)
	if head.Acks == 0 {
		return nil, nil
	}
	pc.awaitAcks(ctx, head.TimeoutMs)
	pc.nameCurrentLeaders()
	return pc.resp, nil
}

// produceCall answers one Produce request partition by partition, in
// request order, whether it was decoded whole or is being streamed.
type produceCall struct {
	b               *Broker
	rc              *reqCtx
	transactionalID *protocol.TransactionalID
	acks            int16
	acksValid       bool
	img             *controller.MetadataImage
	resp            *protocol.ProduceResponse
	// txnDenied: the principal may not WRITE the transactional id; every
	// partition answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED (authz.go).
	txnDenied bool
	// pending are the acks=all appends not yet committed (awaitAcks).
	pending []pendingAck
	// topics are the topic names of resp.Responses, index for index (a
	// v13 response names topics by ID only).
	topics []string
	// caughtUp: this call has caught up with the metadata log already
	// (catchUpIfFollower).
	caughtUp bool
}

// pendingAck is an appended partition waiting for the high watermark:
// its place in resp.
type pendingAck struct {
	topic, partition int
	res              *replication.AppendResult
}

func (b *Broker) newProduceCall(rc *reqCtx, transactionalID *protocol.TransactionalID, acks int16) *produceCall {
	return &produceCall{
		b: b, rc: rc, transactionalID: transactionalID, acks: acks,
		acksValid: acks == 0 || acks == 1 || acks == -1,
		img:       b.image.Load(),
		resp:      &protocol.ProduceResponse{},
		txnDenied: transactionalID != nil && !b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(*transactionalID)),
	}
}

// produceTopic is one topic of the request and its partitions' answers.
type produceTopic struct {
	pc    *produceCall
	name  string
	idErr int16 // v13+: the topic ID is unknown
	// denied: the principal may not WRITE the topic (authz.go).
	denied bool
	resp   protocol.ProduceResponseTopicProduceResponse
	acks   []pendingAck // partition indexes into resp
}

func (pc *produceCall) topic(name protocol.TopicName, id protocol.UUID) *produceTopic {
	t := &produceTopic{pc: pc, name: string(name),
		resp: protocol.ProduceResponseTopicProduceResponse{Name: name, TopicID: id}}
	if pc.rc.v >= 13 {
		if mt := pc.img.TopicByID(topicIDOf(id)); mt != nil {
			t.name = mt.Name
		} else {
			t.idErr = errcode.UnknownTopicID
		}
	}
	t.denied = t.idErr == 0 && !pc.txnDenied && !pc.b.authorize(pc.rc, acl.OpWrite, acl.ResourceTopic, t.name)
	return t
}

// partition appends one partition's records and records the answer.
func (t *produceTopic) partition(ctx context.Context, index int32, recs []byte) {
	pc := t.pc
	pr := protocol.ProduceResponsePartitionProduceResponse{
		Index: index, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1,
	}
	// No current leader (-1, the tagged field left out), as Kafka answers
	// all but NOT_LEADER_OR_FOLLOWER: librdkafka takes a leader 0 here for
	// a leader change.
	pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = -1, -1
	switch {
	case pc.txnDenied:
		pr.ErrorCode = errcode.TransactionalIDAuthorizationFailed
	case !pc.acksValid:
		pr.ErrorCode = errcode.InvalidRequiredAcks
	case t.idErr != 0:
		pr.ErrorCode = t.idErr
	case t.denied:
		pr.ErrorCode = errcode.TopicAuthorizationFailed
	default:
		pc.catchUpIfFollower(ctx, t.name, index)
		if res := pc.b.produceTo(pc.rc, pc.transactionalID, pc.acks, t.name, &pr, recs); res != nil {
			t.acks = append(t.acks, pendingAck{partition: len(t.resp.PartitionResponses), res: res})
		}
	}
	t.resp.PartitionResponses = append(t.resp.PartitionResponses, pr)
}

// catchUpIfFollower catches up with the committed metadata log, once per
// request, before a partition this broker is a replica of but does not
// lead is produced to. That is the moment after a leadership change (a
// controlled shutdown, an election): the old leader applied the change
// first and named this broker in its KIP-951 CurrentLeader hint, and the
// producer came here before this broker applied it. Answering
// NOT_LEADER_OR_FOLLOWER then, with the old leader's epoch as the hint,
// sends the client into its retry back-off (franz-go 250 ms ± 20 %, the
// Java client and librdkafka 100 ms) and a metadata refresh, which was the
// last ~0.25 s of a controlled shutdown's producer stall; catching up (one
// DescribeQuorum to the active controller and the wait to apply, a few ms)
// lets the append through. A producer whose metadata is merely stale gets
// the same answer as before, a catch-up later. Kafka answers at once.
func (pc *produceCall) catchUpIfFollower(ctx context.Context, topic string, index int32) {
	if pc.caughtUp {
		return
	}
	t := pc.b.image.Load().Topic(topic)
	if t == nil || index < 0 || int(index) >= len(t.Partitions) {
		return
	}
	if p := t.Partitions[index]; p.Leader != pc.b.nodeID && slices.Contains(p.Replicas, pc.b.nodeID) {
		pc.caughtUp = true
		pc.b.catchUpMetadata(ctx)
	}
}

func (pc *produceCall) endTopic(t *produceTopic) {
	for _, a := range t.acks {
		a.topic = len(pc.resp.Responses)
		pc.pending = append(pc.pending, a)
	}
	pc.resp.Responses = append(pc.resp.Responses, t.resp)
	pc.topics = append(pc.topics, t.name)
}

// nameCurrentLeaders fills CurrentLeader of every NOT_LEADER_OR_FOLLOWER
// answer with the leader and epoch this replica knows, and from v10 the
// live leaders' endpoints, as Kafka does (KIP-951): the producer moves to
// the new leader without waiting for a Metadata refresh, which is most of
// the stall of a controlled shutdown.
func (pc *produceCall) nameCurrentLeaders() {
	if pc.rc.v < 10 {
		return
	}
	for ti := range pc.resp.Responses {
		for pi := range pc.resp.Responses[ti].PartitionResponses {
			pr := &pc.resp.Responses[ti].PartitionResponses[pi]
			if pr.ErrorCode != errcode.NotLeaderOrFollower {
				continue
			}
			p := pc.b.partition(pc.topics[ti], pr.Index)
			if p == nil {
				continue
			}
			id, epoch := p.Leader()
			if id < 0 || id == pc.b.nodeID {
				continue
			}
			pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = protocol.BrokerID(id), epoch
			if !slices.ContainsFunc(pc.resp.NodeEndpoints, func(e protocol.ProduceResponseNodeEndpoint) bool { return int32(e.NodeID) == id }) {
				if ep, ok := pc.b.liveEndpoint(id, pc.rc.c.listener); ok {
					pc.resp.NodeEndpoints = append(pc.resp.NodeEndpoints, protocol.ProduceResponseNodeEndpoint{NodeID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack})
				}
			}
		}
	}
}

// awaitAcks waits, up to the request's timeout, until the high watermark
// covers every acks=all append (Kafka's DelayedProduce); a partition not
// committed in time gets REQUEST_TIMED_OUT, one whose leadership moved
// NOT_LEADER_OR_FOLLOWER.
func (pc *produceCall) awaitAcks(ctx context.Context, timeoutMs int32) {
	if len(pc.pending) == 0 {
		return
	}
	defer pc.rc.waiting()() // not request handler time (Kafka's purgatory)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(timeoutMs, 0))*time.Millisecond)
	defer cancel()
	for _, a := range pc.pending {
		if err := a.res.Wait(ctx); err != nil {
			pr := &pc.resp.Responses[a.topic].PartitionResponses[a.partition]
			pr.ErrorCode = replicationErrorCode(err)
		}
	}
}

// produceTo validates and appends one partition's records, filling pr. It
// returns the append when acks=all must still wait for the high watermark.
func (b *Broker) produceTo(rc *reqCtx, transactionalID *protocol.TransactionalID, acks int16, topic string, pr *protocol.ProduceResponsePartitionProduceResponse, recs []byte) *replication.AppendResult {
	p := b.partition(topic, pr.Index)
	if p == nil {
		pr.ErrorCode = b.missingPartitionCode(topic, pr.Index)
		return nil
	}
	if !p.IsLeader() {
		pr.ErrorCode = errcode.NotLeaderOrFollower
		return nil
	}
	settings := p.Settings()
	// Kafka checks min.insync.replicas as the leader's append begins,
	// before the records are validated; like Kafka, the answer carries no
	// error message. AppendAsLeader checks again under the partition lock.
	if err := p.CheckMinISR(acks); err != nil {
		pr.ErrorCode = errcode.NotEnoughReplicas
		return nil
	}
	batches, sum, code, msg := b.validateProduce(rc.v, recs, settings.MaxMessageBytes, settings.SegmentBytes)
	if code != 0 {
		pr.ErrorCode, pr.ErrorMessage = code, &msg
		if code == errcode.MessageTooLarge {
			// Kafka's UnifiedLog marks BytesRejectedPerSec with the
			// partition's records when a batch exceeds max.message.bytes.
			b.metrics.rejected(topic, len(recs))
		}
		return nil
	}
	now := time.Now().UnixMilli()
	logAppendTime := settings.MessageTimestampType == "LogAppendTime"
	if rej := checkRecords(batches, sum, recordChecks{
		topicPartition: fmt.Sprintf("%s-%d", topic, pr.Index),
		compacted:      settings.Compact(),
		logAppendTime:  logAppendTime,
		beforeMaxMs:    settings.MessageTimestampBeforeMaxMs,
		afterMaxMs:     settings.MessageTimestampAfterMaxMs,
		now:            now,
	}); rej.code != 0 {
		// KIP-467: the batch is rejected, naming each bad record, and the
		// log start offset is reported as Kafka reports it for a batch its
		// LogValidator refused.
		pr.ErrorCode, pr.ErrorMessage, pr.RecordErrors = rej.code, &rej.message, rej.records
		pr.LogStartOffset = p.Log().LogStartOffset()
		return nil
	}
	if logAppendTime {
		for batch := range records.Batches(batches) {
			records.SetLogAppendTime(batch, now)
		}
	}
	hook, release, code := b.txnVerifyHook(rc, transactionalID, topic, p, batches)
	if code != 0 {
		pr.ErrorCode = code
		return nil
	}
	defer release()
	info, err := p.AppendAsLeader(batches, replication.AppendOptions{RequiredAcks: acks, Hook: hook})
	if err != nil {
		pr.ErrorCode = replicationErrorCode(err)
		if !errors.Is(err, replication.ErrNotEnoughReplicas) && !errors.Is(err, replication.ErrNotLeader) {
			msg := err.Error() // Kafka sends none with these two
			pr.ErrorMessage = &msg
		}
		return nil
	}
	var pending *replication.AppendResult
	if !info.Done() {
		res := info // only a waiting append escapes to the heap
		pending = &res
	} else if err := info.Wait(context.Background()); err != nil {
		pr.ErrorCode = replicationErrorCode(err)
		return nil
	}
	if info.Duplicate {
		// A retry of a batch already in the log: answer as the original
		// append was answered, without appending again.
		pr.BaseOffset = info.FirstOffset
		pr.LogStartOffset = p.Log().LogStartOffset()
		return pending
	}
	b.metrics.produced(topic, info.Bytes, info.LastOffset-info.FirstOffset+1)
	pr.BaseOffset = info.FirstOffset
	pr.LogStartOffset = info.LogStartOffset
	if logAppendTime {
		pr.LogAppendTimeMs = now
	}
	return pending
}

// validateProduce checks a partition's batches as Kafka's LogValidator
// checks a batch as a whole and returns v2 batches ready for the per-record
// checks (checkRecords) and the append; legacy v0/v1 message sets from old
// producers are up-converted. A non-zero code rejects the whole partition.
// sum summarises the records for checkRecords.
func (b *Broker) validateProduce(v int16, recs []byte, maxMessageBytes int32, segmentBytes int32) ([]byte, recordSummary, int16, string) {
	var sum recordSummary
	if len(recs) == 0 {
		return nil, sum, errcode.InvalidRecord, "produce request has no record batch"
	}
	var out []byte
	n := 0
	legacy := false
	for batch, err := range records.Batches(recs) {
		if err != nil {
			return nil, sum, errcode.CorruptMessage, err.Error()
		}
		n++
		if len(batch) > int(segmentBytes) {
			return nil, sum, errcode.RecordListTooLarge, fmt.Sprintf("batch of %d bytes is larger than the segment size %d", len(batch), segmentBytes)
		}
		if len(batch) > int(maxMessageBytes)+records.LogOverhead {
			return nil, sum, errcode.MessageTooLarge, fmt.Sprintf("batch of %d bytes exceeds max.message.bytes %d", len(batch), maxMessageBytes)
		}
		info, err := records.Validate(batch, maxDecompressedBatch)
		if err != nil {
			return nil, sum, recordErrorCode(err), err.Error()
		}
		if info.Magic < 2 {
			legacy = true
		} else if v < 3 {
			return nil, sum, errcode.InvalidRecord, "produce versions below 3 carry message format v0/v1 only"
		}
		if info.Magic == 2 && info.Header.IsControl() {
			return nil, sum, errcode.InvalidRecord, "clients may not produce control batches"
		}
		if h := info.Header; info.Magic == 2 && h.ProducerID >= 0 && h.BaseSequence < 0 {
			return nil, sum, errcode.InvalidRecord, fmt.Sprintf("invalid sequence number %d in a record batch with producer ID %d", h.BaseSequence, h.ProducerID)
		}
		if info.Compression == records.CompressionZstd && v < 7 {
			return nil, sum, errcode.UnsupportedCompressionType, "zstd needs produce version 7 or newer"
		}
		sum.add(info)
	}
	if v >= 3 && n != 1 {
		return nil, sum, errcode.InvalidRecord, fmt.Sprintf("produce version %d must carry exactly one record batch, got %d", v, n)
	}
	if !legacy {
		return recs, sum, 0, ""
	}
	out, err := records.UpConvert(out, recs, maxDecompressedBatch, records.CompressionNone)
	if err != nil {
		return nil, sum, recordErrorCode(err), err.Error()
	}
	return out, sum, 0, ""
}

// maxDecompressedBatch bounds how far one batch may expand when validated
// (a decompression bomb gets CORRUPT_MESSAGE, not the broker's memory).
const maxDecompressedBatch = 256 << 20
