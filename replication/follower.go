package replication

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// The follower side of a Partition (Kafka's Partition and UnifiedLog as a
// follower): the replica fetcher appends what the leader sent, moves the
// follower's high watermark and log start offset, and truncates the log
// where it diverged from the leader's. Every call names the leader epoch
// the fetcher is fetching under and is refused (ErrNotFollower) unless the
// partition still follows under that epoch: checked under the partition
// lock's read side, which leadership changes take for writing, so a fetcher
// that has not yet heard of a leadership change cannot write into a log
// that now leads or follows someone else.

// ErrNotFollower refuses a follower append or truncation made under a
// leader epoch the partition no longer follows (it leads, was removed, or
// moved to another epoch). The fetcher drops the partition's state; newer
// metadata restarts it.
var ErrNotFollower = errors.New("replication: not following under this leader epoch")

// checkFollowerLocked: mu held (either side).
func (p *Partition) checkFollowerLocked(leaderEpoch int32) error {
	switch {
	case p.removed:
		return fmt.Errorf("%s: removed: %w", p.tp, ErrNotFollower)
	case p.leadingLocked():
		return fmt.Errorf("%s: leading under epoch %d: %w", p.tp, p.leaderEpoch, ErrNotFollower)
	case p.leaderEpoch != leaderEpoch:
		return fmt.Errorf("%s: following under epoch %d, not %d: %w", p.tp, p.leaderEpoch, leaderEpoch, ErrNotFollower)
	}
	return nil
}

// FollowerData is one partition of a leader's fetch answer, as the
// follower applies it.
type FollowerData struct {
	// LeaderEpoch is the leader epoch the fetch was sent under.
	LeaderEpoch int32
	// Records are the batches, as the leader stored them (offsets and
	// leader epochs assigned); a partial batch at the end is ignored.
	Records []byte
	// HighWatermark and LogStartOffset are the leader's, as of the read
	// (the high watermark from before this fetch's own progress).
	HighWatermark  int64
	LogStartOffset int64
}

// FollowerAppendInfo is the outcome of AppendAsFollower.
type FollowerAppendInfo struct {
	// Appended is how many bytes of batches were written (0: none).
	Appended int
	// LogEndOffset and LatestEpoch are the log's after the append: the
	// next fetch offset and its LastFetchedEpoch.
	LogEndOffset int64
	LatestEpoch  int32
	// HighWatermark is the follower's after the append.
	HighWatermark int64
}

// AppendAsFollower appends what the leader sent, keeping the batches'
// offsets and leader epochs (storage.Log.AppendAsFollower, which also feeds
// the producer state and the aborted-transaction index, so idempotence and
// read_committed carry over a failover), then sets the follower's high
// watermark to min(leader's high watermark, log end offset) and moves its
// log start offset up to the leader's (Kafka's processPartitionData).
//
// Batches of a leader epoch above d.LeaderEpoch are not appended (nor
// anything after them): a follower never takes data from an epoch it has
// not learned of (Kafka's appendAsFollower, KAFKA-18723). When the log is
// empty and the leader's log start is inside the first batch (DeleteRecords
// moved it mid-batch), the log restarts at that batch's base offset, as
// Kafka does.
func (p *Partition) AppendAsFollower(d FollowerData) (FollowerAppendInfo, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out FollowerAppendInfo
	if err := p.checkFollowerLocked(d.LeaderEpoch); err != nil {
		return out, err
	}
	batches, firstBase, lastOffset := acceptedBatches(d.Records, d.LeaderEpoch)
	if len(batches) > 0 {
		leo := p.log.LogEndOffset()
		if firstBase < leo {
			if leo != p.log.LogStartOffset() || lastOffset < leo {
				return out, fmt.Errorf("%s: leader sent batches from %d, log end is %d: %w", p.tp, firstBase, leo, storage.ErrUnexpectedOffset)
			}
			p.env.logger.Info("restarting an empty follower log at the leader's first batch", zap.String("partition", p.tp.String()),
				zap.Int64("log_start_offset", leo), zap.Int64("batch_base_offset", firstBase))
			if err := p.log.TruncateFullyAndStartAt(firstBase); err != nil {
				return out, err
			}
		}
		if err := p.appendChunksLocked(batches); err != nil {
			return out, err
		}
		out.Appended = len(batches)
		if p.env.replicatedBytes != nil {
			p.env.replicatedBytes(p.tp.Topic, len(batches))
		}
	}
	out.LogEndOffset = p.log.LogEndOffset()
	out.LatestEpoch = p.log.LeaderEpochCache().LatestEpoch()
	p.fetcherLag.Store(max(d.HighWatermark-out.LogEndOffset, 0)) // metrics.go
	prevHW := p.log.HighWatermark()
	if d.HighWatermark >= 0 {
		out.HighWatermark = p.log.SetHighWatermark(min(d.HighWatermark, out.LogEndOffset))
	} else {
		out.HighWatermark = prevHW
	}
	if out.HighWatermark != prevHW {
		// Consumers read from followers too (KIP-392): their parked
		// fetches and sessions wait on this replica's high watermark.
		p.consumers.wake()
		p.feeds.notify(p, false)
	}
	// The leader's log start never passes its high watermark; ours may
	// lag behind it, so it is bounded by our own (storage refuses more).
	if start := min(d.LogStartOffset, out.HighWatermark); start > p.log.LogStartOffset() {
		if _, err := p.log.DeleteRecordsBefore(start); err != nil && !errors.Is(err, storage.ErrOffsetOutOfRange) {
			return out, err
		}
	}
	return out, nil
}

// appendChunksLocked appends batches in runs no larger than segment.bytes
// (the log refuses a single append larger than a segment).
func (p *Partition) appendChunksLocked(batches []byte) error {
	limit := int(p.log.Config().SegmentBytes)
	for len(batches) > 0 {
		n := 0
		for n < len(batches) {
			h, err := records.ParseHeader(batches[n:])
			if err != nil {
				return fmt.Errorf("%s: %w: %w", p.tp, storage.ErrInvalidBatches, err)
			}
			if n > 0 && n+h.Size() > limit {
				break
			}
			n += h.Size()
		}
		if _, err := p.log.AppendAsFollower(batches[:n]); err != nil {
			return err
		}
		batches = batches[n:]
	}
	return nil
}

// acceptedBatches is the prefix of recs made of whole batches of leader
// epochs up to maxEpoch, with the first batch's base offset and the last
// batch's last offset.
func acceptedBatches(recs []byte, maxEpoch int32) (out []byte, firstBase, lastOffset int64) {
	n := 0
	firstBase, lastOffset = -1, -1
	for n < len(recs) {
		h, err := records.ParseHeader(recs[n:])
		if err != nil || h.Size() > len(recs)-n || h.PartitionLeaderEpoch > maxEpoch {
			break
		}
		if n == 0 {
			firstBase = h.BaseOffset
		}
		lastOffset = h.LastOffset()
		n += h.Size()
	}
	return recs[:n], firstBase, lastOffset
}

// TruncateAsFollower removes every batch at or after offset (Kafka's
// Partition.truncateTo), as the replica fetcher decides from the leader's
// epoch end offsets. The producer state, aborted-transaction index and
// leader epoch cache are rolled back with the log. An offset at or past the
// log end removes no batch but still drops a leader epoch starting at the
// log end (storage.Log.TruncateTo): one this broker began as leader and
// never appended to, which the new leader does not have.
func (p *Partition) TruncateAsFollower(leaderEpoch int32, offset int64) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkFollowerLocked(leaderEpoch); err != nil {
		return err
	}
	if leo := p.log.LogEndOffset(); offset < leo {
		p.env.logger.Info("truncating follower log", zap.String("partition", p.tp.String()), zap.Int32("leader_epoch", leaderEpoch),
			zap.Int64("offset", offset), zap.Int64("log_end_offset", leo), zap.Int64("high_watermark", p.log.HighWatermark()))
	}
	return p.log.TruncateTo(offset)
}

// TruncateFullyAsFollower empties the log and restarts it at offset (the
// leader's log start moved past this follower's log end).
func (p *Partition) TruncateFullyAsFollower(leaderEpoch int32, offset int64) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkFollowerLocked(leaderEpoch); err != nil {
		return err
	}
	p.env.logger.Info("restarting follower log at the leader's log start", zap.String("partition", p.tp.String()),
		zap.Int32("leader_epoch", leaderEpoch), zap.Int64("offset", offset), zap.Int64("log_end_offset", p.log.LogEndOffset()))
	return p.log.TruncateFullyAndStartAt(offset)
}

// truncationPoint is Kafka's getOffsetTruncationState: where a follower
// whose log ends at logEnd truncates, given the leader's answer (epoch,
// end) for the follower's latest epoch and the follower's own end offset
// for that epoch (ownEpoch, ownEnd; -1 when it has none at or below it).
// complete is false when the leader answered with an epoch the follower
// does not have (KIP-279): the follower truncates to the end of its own
// largest smaller epoch and asks again.
func truncationPoint(leaderEpoch int32, leaderEnd int64, ownEpoch int32, ownEnd, logEnd int64) (offset int64, complete bool) {
	switch {
	case leaderEpoch < 0:
		return min(leaderEnd, logEnd), true
	case ownEpoch < 0 || ownEnd < 0:
		// The follower tracked no epoch at or below the leader's: the
		// leader's end offset is safe (KIP-101).
		return min(leaderEnd, logEnd), true
	case ownEpoch != leaderEpoch:
		return min(ownEnd, logEnd), false
	}
	return min(ownEnd, leaderEnd, logEnd), true
}
