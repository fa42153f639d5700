package replication

import (
	"fmt"
	"slices"

	"github.com/spool-broker/spool/internal/config"
)

// Fetch from follower (KIP-392): the leader may tell a consumer to fetch a
// partition from another in-sync replica, its preferred read replica,
// chosen by the broker's replica.selector.class; any replica serves a
// consumer's Fetch v11+ up to its own high watermark (Partition.Read with
// ReadOptions.AnyReplica).

// RackAwareReplicaSelectorClass is the one selector class Kafka ships and
// Spool knows (replica.selector.class).
const RackAwareReplicaSelectorClass = config.RackAwareReplicaSelector

// ClientMetadata is what the leader knows of the consumer asking (Kafka's
// ClientMetadata): its rack (the Fetch request's RackId, client.rack).
type ClientMetadata struct {
	RackID string
	// ListenerName is the listener the consumer connected through: the
	// replica named must be reachable on it.
	ListenerName string
}

// ReplicaView is one replica a consumer could read from (Kafka's
// ReplicaView): whether its broker is alive with an endpoint on the
// consumer's listener and its rack, its log end offset and how long ago it
// was last caught up with the leader.
type ReplicaView struct {
	ID int32
	// HasEndpoint is false for a broker that is fenced, unregistered or
	// has no endpoint on the consumer's listener (Kafka's Node.noNode()):
	// it is never chosen.
	HasEndpoint             bool
	Rack                    *string
	LogEndOffset            int64
	TimeSinceLastCaughtUpMs int64
}

// ReplicaSelector chooses where a consumer should fetch from (Kafka's
// ReplicaSelector). Select returns the chosen replica's id, or -1 for none;
// the caller ignores a choice of the leader. Implementations are pure and
// safe for concurrent use.
type ReplicaSelector interface {
	Select(client ClientMetadata, leader ReplicaView, replicas []ReplicaView) int32
}

// NewReplicaSelector returns the selector replica.selector.class names;
// nil for "" (Kafka's default: consumers read from leaders). An unknown
// class is an error naming it, as Kafka fails to start on a class it cannot
// load.
func NewReplicaSelector(class string) (ReplicaSelector, error) {
	switch class {
	case "":
		return nil, nil
	case RackAwareReplicaSelectorClass:
		return RackAwareReplicaSelector{}, nil
	}
	return nil, fmt.Errorf("replica.selector.class: class %s cannot be found (Spool knows %s)", class, RackAwareReplicaSelectorClass)
}

// RackAwareReplicaSelector is Kafka's: without a client rack, or when the
// leader is in the client's rack, or no replica is, the leader; otherwise
// the most caught-up replica in the client's rack (highest log end offset,
// then the shortest time since last caught up).
type RackAwareReplicaSelector struct{}

// Select implements ReplicaSelector. leader is among replicas or not; it
// is considered either way.
func (RackAwareReplicaSelector) Select(client ClientMetadata, leader ReplicaView, replicas []ReplicaView) int32 {
	inRack := func(v ReplicaView) bool { return v.Rack != nil && *v.Rack == client.RackID }
	if client.RackID == "" || inRack(leader) {
		return leader.ID
	}
	best := -1
	for i, v := range replicas {
		if v.ID == leader.ID || !inRack(v) {
			continue
		}
		if best < 0 || moreCaughtUp(v, replicas[best]) {
			best = i
		}
	}
	if best < 0 {
		return leader.ID
	}
	return replicas[best].ID
}

// moreCaughtUp is Kafka's ReplicaView.comparator: a higher log end offset,
// then a shorter time since last caught up.
func moreCaughtUp(a, b ReplicaView) bool {
	if a.LogEndOffset != b.LogEndOffset {
		return a.LogEndOffset > b.LogEndOffset
	}
	return a.TimeSinceLastCaughtUpMs < b.TimeSinceLastCaughtUpMs
}

// Endpoint describes a broker for a consumer's listener: ok is false when
// it is fenced, unregistered or without an endpoint there.
type Endpoint func(id int32) (rack *string, ok bool)

// OffsetSnapshot is the leader's offsets sent with a preferred read replica
// instead of records.
type OffsetSnapshot struct {
	HighWatermark, LastStableOffset, LogStartOffset, LogEndOffset int64
}

// PreferredReadReplica is Kafka's findPreferredReadReplica: while this
// broker leads under the epoch the consumer named (-1: unchecked), the
// replica sel chooses among the leader and the in-sync followers whose log
// covers fetchOffset (log start <= fetchOffset <= log end), or -1 when it
// chooses the leader, nothing, or a broker without an endpoint. With a
// replica, snap holds the offsets the answer carries.
func (p *Partition) PreferredReadReplica(sel ReplicaSelector, client ClientMetadata, fetchOffset int64, currentLeaderEpoch int32, endpoint Endpoint) (id int32, snap OffsetSnapshot) {
	if sel == nil {
		return -1, snap
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.checkLeaderLocked(currentLeaderEpoch) != nil {
		return -1, snap // Read answers the error
	}
	now := p.env.nowMs()
	view := func(id int32, leo, sinceCaughtUp int64) ReplicaView {
		rack, ok := endpoint(id)
		return ReplicaView{ID: id, HasEndpoint: ok, Rack: rack, LogEndOffset: leo, TimeSinceLastCaughtUpMs: sinceCaughtUp}
	}
	leader := view(p.env.nodeID, p.log.LogEndOffset(), 0)
	replicas := make([]ReplicaView, 0, len(p.replicas))
	p.hwMu.Lock()
	for _, f := range p.followers {
		// Only the committed ISR: a lagging follower would keep the
		// consumer behind (Kafka's remark: it may do so indefinitely).
		if slices.Contains(p.isr.isr, f.ID) && f.State.LogEndOffset >= fetchOffset && f.State.LogStartOffset <= fetchOffset {
			replicas = append(replicas, view(f.ID, f.State.LogEndOffset, now-f.State.LastCaughtUpTimeMs))
		}
	}
	p.hwMu.Unlock()
	replicas = append(replicas, leader)
	id = sel.Select(client, leader, replicas)
	if id < 0 || id == leader.ID {
		return -1, snap
	}
	i := slices.IndexFunc(replicas, func(v ReplicaView) bool { return v.ID == id })
	if i < 0 || !replicas[i].HasEndpoint {
		return -1, snap
	}
	hw := p.log.HighWatermark()
	snap = OffsetSnapshot{
		HighWatermark: hw, LastStableOffset: min(p.log.LastStableOffset(), hw),
		LogStartOffset: p.log.LogStartOffset(), LogEndOffset: p.log.LogEndOffset(),
	}
	return id, snap
}
