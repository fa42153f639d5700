package share

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/spool-broker/spool/protocol/errcode"
)

// RecordState is the delivery state of one in-flight record (KIP-932).
// The numbers are Kafka's RecordState ids, which are also what the
// share-group state persists (only Available, Acknowledged and Archived are
// ever written: an acquisition does not survive a restart).
type RecordState int8

// Record states.
const (
	Available    RecordState = 0
	Acquired     RecordState = 1
	Acknowledged RecordState = 2
	Archived     RecordState = 4
)

func (s RecordState) String() string {
	switch s {
	case Available:
		return "AVAILABLE"
	case Acquired:
		return "ACQUIRED"
	case Acknowledged:
		return "ACKNOWLEDGED"
	case Archived:
		return "ARCHIVED"
	}
	return fmt.Sprintf("RecordState(%d)", int8(s))
}

// AckType is an acknowledgement type of ShareFetch/ShareAcknowledge.
type AckType int8

// Acknowledgement types (AcknowledgeTypes in the requests). Gap marks an
// offset with no record (compacted away, a control record): it is archived.
const (
	AckGap     AckType = 0
	AckAccept  AckType = 1
	AckRelease AckType = 2
	AckReject  AckType = 3
	AckRenew   AckType = 4 // ShareFetch/ShareAcknowledge v2 (KIP-1222)
)

// Config is what a share partition follows of the broker's and the
// group's configuration.
type Config struct {
	// LockDuration is group.share.record.lock.duration.ms (or the group's
	// share.record.lock.duration.ms): how long an acquired record stays
	// with its consumer.
	LockDuration time.Duration
	// DeliveryCountLimit is group.share.delivery.count.limit: a record
	// released or timed out after this many deliveries is archived.
	DeliveryCountLimit int16
	// MaxInFlight is group.share.partition.max.record.locks: records past
	// the start offset that may be in flight.
	MaxInFlight int64
	// Now is the clock of acquisition locks.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.LockDuration <= 0 {
		c.LockDuration = 30 * time.Second
	}
	if c.DeliveryCountLimit <= 0 {
		c.DeliveryCountLimit = 5
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// inFlight is one record between the start offset and the end offset.
type inFlight struct {
	state         RecordState
	deliveryCount int16
	member        string    // holder while Acquired
	lockExpiry    time.Time // while Acquired
}

// Batch is one record batch of the log as the share partition needs it.
type Batch struct {
	BaseOffset int64
	LastOffset int64
	Control    bool
}

// AcquiredRange is a run of acquired offsets with one delivery count, as
// ShareFetch answers it (AcquiredRecords).
type AcquiredRange struct {
	FirstOffset   int64
	LastOffset    int64
	DeliveryCount int16
}

// StateBatch is a run of offsets with one persisted state and delivery
// count (Kafka's PersisterStateBatch).
type StateBatch struct {
	FirstOffset   int64
	LastOffset    int64
	DeliveryState RecordState
	DeliveryCount int16
}

// State is the durable state of a share partition (Kafka's share snapshot):
// the share-partition start offset, the state epoch, and every in-flight
// record whose state is not "available, never delivered".
type State struct {
	StateEpoch  int32
	LeaderEpoch int32
	StartOffset int64 // -1: not initialized (auto.offset.reset applies)
	Batches     []StateBatch
}

// Partition is one share-partition: the delivery state of one topic
// partition's records for one share group (Kafka's SharePartition). All
// methods are safe for concurrent use.
//
// Invariants: startOffset <= endOffset; every key of records lies in
// [startOffset, endOffset); an offset in that range missing from records
// has no record to deliver (a gap or a control record) or is done.
// startOffset is never an Acknowledged or Archived record's offset.
//
// Acquisition locks expire lazily: every method first releases the
// records whose lock is due by Config.Now, so a test moves a fake clock
// and the next call sees the effect.
type Partition struct {
	cfg Config

	mu          sync.Mutex
	startOffset int64 // share-partition start offset (SPSO)
	endOffset   int64 // next offset never acquired (SPEO + 1)
	stateEpoch  int32
	records     map[int64]*inFlight
	// changed counts durable state changes; written is the count the last
	// persisted snapshot had.
	changed, written uint64
}

// NewPartition returns a share partition restored from st, clamped to the
// log: a start offset below logStart moves up to it.
func NewPartition(cfg Config, st State, logStart int64) *Partition {
	cfg.defaults()
	p := &Partition{cfg: cfg, startOffset: st.StartOffset, endOffset: st.StartOffset, stateEpoch: st.StateEpoch, records: map[int64]*inFlight{}}
	for _, b := range st.Batches {
		for o := max(b.FirstOffset, st.StartOffset); o <= b.LastOffset; o++ {
			state := b.DeliveryState
			if state == Acquired {
				state = Available
			}
			p.records[o] = &inFlight{state: state, deliveryCount: b.DeliveryCount}
			p.endOffset = max(p.endOffset, o+1)
		}
	}
	p.moveStartLocked(logStart)
	p.advanceStartLocked()
	p.written = p.changed
	return p
}

// StateEpoch is the state epoch the partition was restored or reset at.
func (p *Partition) StateEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stateEpoch
}

// StartOffset is the share-partition start offset: every record below it
// is acknowledged or archived.
func (p *Partition) StartOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	return p.startOffset
}

// moveStartLocked archives what lies below logStart (deleted by retention
// or DeleteRecords).
func (p *Partition) moveStartLocked(logStart int64) {
	if logStart <= p.startOffset {
		return
	}
	for o := range p.records {
		if o < logStart {
			delete(p.records, o)
		}
	}
	p.startOffset = logStart
	p.endOffset = max(p.endOffset, logStart)
	p.changed++
}

// advanceStartLocked moves the start offset past acknowledged, archived
// and absent offsets.
func (p *Partition) advanceStartLocked() {
	for p.startOffset < p.endOffset {
		r := p.records[p.startOffset]
		if r != nil && r.state != Acknowledged && r.state != Archived {
			return
		}
		delete(p.records, p.startOffset)
		p.startOffset++
		p.changed++
	}
}

// releaseLocked makes an acquired record available again, or archives it
// once it has been delivered DeliveryCountLimit times.
func (p *Partition) releaseLocked(r *inFlight) {
	r.member, r.lockExpiry = "", time.Time{}
	if r.deliveryCount >= p.cfg.DeliveryCountLimit {
		r.state = Archived
	} else {
		r.state = Available
	}
	p.changed++
}

// expireLocked releases every record whose acquisition lock is due.
func (p *Partition) expireLocked() {
	now := p.cfg.Now()
	expired := false
	for _, r := range p.records {
		if r.state == Acquired && !now.Before(r.lockExpiry) {
			p.releaseLocked(r)
			expired = true
		}
	}
	if expired {
		p.advanceStartLocked()
	}
}

// NextFetchOffset is where the next acquisition reads the log from: the
// lowest available in-flight record, else the end offset. ok is false
// when nothing may be acquired now (the in-flight window is full of
// acquired or finished records).
func (p *Partition) NextFetchOffset(logStart int64) (offset int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	p.moveStartLocked(logStart)
	p.advanceStartLocked()
	for o := p.startOffset; o < p.endOffset; o++ {
		if r := p.records[o]; r != nil && r.state == Available {
			return o, true
		}
	}
	return p.endOffset, p.endOffset-p.startOffset < p.cfg.MaxInFlight
}

// Acquire gives member the available records of batches (read from the
// log at NextFetchOffset, in offset order): at most maxRecords records,
// or, with batchAligned (ShareAcquireMode batch_optimized), whole batches
// until maxRecords is reached. Records past the end offset are acquired
// for the first time. Control records and gaps are never acquired.
func (p *Partition) Acquire(member string, batches []Batch, maxRecords int, batchAligned bool) []AcquiredRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	if maxRecords <= 0 {
		maxRecords = 500
	}
	expiry := p.cfg.Now().Add(p.cfg.LockDuration)
	var out []AcquiredRange
	add := func(o int64, count int16) {
		if n := len(out); n > 0 && out[n-1].LastOffset == o-1 && out[n-1].DeliveryCount == count {
			out[n-1].LastOffset = o
			return
		}
		out = append(out, AcquiredRange{FirstOffset: o, LastOffset: o, DeliveryCount: count})
	}
	n := 0
	for _, b := range batches {
		if n >= maxRecords {
			break
		}
		for o := max(b.BaseOffset, p.startOffset); o <= b.LastOffset; o++ {
			if !batchAligned && n >= maxRecords {
				break
			}
			if o < p.endOffset {
				r := p.records[o]
				if r == nil || r.state != Available || b.Control {
					continue
				}
				r.state, r.member, r.lockExpiry = Acquired, member, expiry
				r.deliveryCount++
				p.changed++
				add(o, r.deliveryCount)
				n++
				continue
			}
			if o-p.startOffset >= p.cfg.MaxInFlight {
				return out
			}
			p.endOffset = o + 1 // offsets skipped on the way are gaps
			if b.Control {
				continue
			}
			p.records[o] = &inFlight{state: Acquired, deliveryCount: 1, member: member, lockExpiry: expiry}
			add(o, 1)
			n++
		}
	}
	p.advanceStartLocked()
	return out
}

// Acknowledge applies one acknowledgement batch of member: types holds one
// type for the whole range or one per offset. The batch is checked as a
// whole first (Kafka's INVALID_RECORD_STATE when any record is not
// acquired by member, INVALID_REQUEST for a malformed batch or one reaching
// past the end offset) and then
// applied, so it is all or nothing.
func (p *Partition) Acknowledge(member string, first, last int64, types []int8) int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	if first > last || len(types) == 0 || (len(types) != 1 && int64(len(types)) != last-first+1) {
		return errcode.InvalidRequest
	}
	if last >= p.endOffset {
		return errcode.InvalidRequest // past anything ever acquired (Kafka answers the same)
	}
	typeAt := func(o int64) AckType {
		if len(types) == 1 {
			return AckType(types[0])
		}
		return AckType(types[o-first])
	}
	for o := first; o <= last; o++ {
		t := typeAt(o)
		if t < AckGap || t > AckRenew {
			return errcode.InvalidRequest
		}
		r := p.records[o]
		if t == AckGap && (r == nil || o < p.startOffset) {
			continue // nothing was there to deliver
		}
		if o >= p.endOffset || o < p.startOffset || r == nil || r.state != Acquired || r.member != member {
			return errcode.InvalidRecordState
		}
	}
	for o := first; o <= last; o++ {
		r := p.records[o]
		if r == nil || o < p.startOffset {
			continue
		}
		switch typeAt(o) {
		case AckAccept:
			r.state, r.member, r.lockExpiry = Acknowledged, "", time.Time{}
			p.changed++
		case AckRelease:
			p.releaseLocked(r)
		case AckReject, AckGap:
			r.state, r.member, r.lockExpiry = Archived, "", time.Time{}
			p.changed++
		case AckRenew:
			r.lockExpiry = p.cfg.Now().Add(p.cfg.LockDuration)
		}
	}
	p.advanceStartLocked()
	return 0
}

// ReleaseMember releases every record member holds (its share session
// closed or it left the group).
func (p *Partition) ReleaseMember(member string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	for _, r := range p.records {
		if r.state == Acquired && r.member == member {
			p.releaseLocked(r)
		}
	}
	p.advanceStartLocked()
}

// Reset moves the start offset to offset and forgets every in-flight
// record (AlterShareGroupOffsets, or a reset after the log was truncated),
// bumping the state epoch.
func (p *Partition) Reset(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = map[int64]*inFlight{}
	p.startOffset, p.endOffset = offset, offset
	p.stateEpoch++
	p.changed++
}

// Snapshot returns the durable state and the change count it reflects;
// MarkWritten(count) records that it was persisted. Acquired records are
// written as available with their delivery count.
func (p *Partition) Snapshot() (State, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	st := State{StateEpoch: p.stateEpoch, StartOffset: p.startOffset}
	offsets := make([]int64, 0, len(p.records))
	for o := range p.records {
		offsets = append(offsets, o)
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	for _, o := range offsets {
		r := p.records[o]
		state := r.state
		if state == Acquired {
			state = Available
		}
		if n := len(st.Batches); n > 0 {
			b := &st.Batches[n-1]
			if b.LastOffset == o-1 && b.DeliveryState == state && b.DeliveryCount == r.deliveryCount {
				b.LastOffset = o
				continue
			}
		}
		st.Batches = append(st.Batches, StateBatch{FirstOffset: o, LastOffset: o, DeliveryState: state, DeliveryCount: r.deliveryCount})
	}
	return st, p.changed
}

// Dirty reports whether the state changed since the last MarkWritten.
func (p *Partition) Dirty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	return p.changed != p.written
}

// MarkWritten records that the snapshot of count was persisted.
func (p *Partition) MarkWritten(count uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written = max(p.written, count)
}

// NextLockExpiry is the earliest acquisition lock due, or the zero time.
func (p *Partition) NextLockExpiry() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var t time.Time
	for _, r := range p.records {
		if r.state == Acquired && (t.IsZero() || r.lockExpiry.Before(t)) {
			t = r.lockExpiry
		}
	}
	return t
}

// RecordInfo is one in-flight record, for tests and describing.
type RecordInfo struct {
	State         RecordState
	DeliveryCount int16
	Member        string
}

// Record returns the in-flight state of offset; ok is false for an offset
// outside [start, end) or without a record.
func (p *Partition) Record(offset int64) (RecordInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
	r := p.records[offset]
	if r == nil {
		return RecordInfo{}, false
	}
	return RecordInfo{State: r.state, DeliveryCount: r.deliveryCount, Member: r.member}, true
}
