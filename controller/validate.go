package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see controllerErrorCode): Kafka capitalizes it and ends it with a full stop.

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
)

// maxTopicNameLength is Kafka's limit (255 minus room for a partition
// suffix in the log directory name).
const maxTopicNameLength = 249

// ValidateTopicName checks a topic name exactly as Kafka does.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: Topic name is illegal, it can't be empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: Topic name cannot be \".\" or \"..\"", ErrInvalidTopic)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: Topic name is illegal, it can't be longer than %d characters, topic name: %s",
			ErrInvalidTopic, maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'",
				ErrInvalidTopic, name)
		}
	}
	return nil
}

// unifyTopicName maps names that collide in metric names ('.' and '_') to
// one key.
func unifyTopicName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// NewTopicID returns a random version-4 UUID; it is never zero.
func NewTopicID() TopicID {
	var id TopicID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// usableBrokers returns the IDs of unfenced brokers in ascending order: the
// brokers new replicas may be placed on. A broker whose every log dir is
// cordoned is not one (KIP-1066).
func usableBrokers(img *MetadataImage) []int32 {
	var out []int32
	for id, b := range img.brokers {
		if !b.Fenced && !b.InControlledShutdown && b.HasUncordonedDirs() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// placeReplicas assigns rf replicas to partitions [first, first+n) the way
// Kafka's non-rack-aware assignment does: the first replica goes round-robin
// from a random start broker, and the followers follow at a shift that grows
// every full pass over the brokers, so leaders and followers both spread out.
func placeReplicas(brokers []int32, first, n int32, rf int) [][]int32 {
	nb := len(brokers)
	start := mrand.IntN(nb)
	shift := mrand.IntN(nb)
	out := make([][]int32, 0, n)
	for p := first; p < first+n; p++ {
		if p > 0 && int(p)%nb == 0 {
			shift++
		}
		lead := (int(p) + start) % nb
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, brokers[lead])
		for j := 0; j < rf-1; j++ {
			replicas = append(replicas, brokers[(lead+1+(shift+j)%(nb-1))%nb])
		}
		out = append(out, replicas)
	}
	return out
}

// brokerRacks is the rack of each of brokers (broker.rack; "" when unset),
// or nil when none has one: placement is then rack-unaware.
func brokerRacks(img *MetadataImage, brokers []int32) map[int32]string {
	var racks map[int32]string
	for _, id := range brokers {
		if b := img.brokers[id]; b != nil && b.Rack != nil {
			if racks == nil {
				racks = make(map[int32]string, len(brokers))
			}
			racks[id] = *b.Rack
		}
	}
	if racks != nil {
		for _, id := range brokers {
			if _, ok := racks[id]; !ok {
				racks[id] = "" // a broker without a rack is a rack of its own
			}
		}
	}
	return racks
}

// placeReplicasRackAware assigns rf replicas to partitions [first,
// first+n) as Kafka's rack-aware assignment (AdminUtils'
// assignReplicasToBrokersRackAware) does when brokers have racks: the
// brokers are ordered alternating between racks (a broker of each rack in
// turn), leaders go round-robin over that order from a random start, and
// each follower is the next broker at the growing shift that is in a rack
// without a replica of the partition yet, while such a rack is left (and on
// a broker without one, while such a broker is left): one replica per rack
// before a second in any rack. Without racks it is placeReplicas.
func placeReplicasRackAware(brokers []int32, racks map[int32]string, first, n int32, rf int) [][]int32 {
	if len(racks) == 0 {
		return placeReplicas(brokers, first, n, rf)
	}
	arranged := rackAlternated(brokers, racks)
	nb := len(arranged)
	numRacks := len(slices.Compact(slices.Sorted(maps.Values(racks))))
	start := mrand.IntN(nb)
	shift := mrand.IntN(nb)
	out := make([][]int32, 0, n)
	for p := first; p < first+n; p++ {
		if p > 0 && int(p)%nb == 0 {
			shift++
		}
		lead := (int(p) + start) % nb
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, arranged[lead])
		usedRacks := map[string]bool{racks[arranged[lead]]: true}
		for k := 0; len(replicas) < rf; k++ {
			b := arranged[(lead+1+(shift*numRacks+k)%(nb-1))%nb]
			if (!usedRacks[racks[b]] || len(usedRacks) == numRacks) && (!slices.Contains(replicas, b) || len(replicas) == nb) {
				replicas = append(replicas, b)
				usedRacks[racks[b]] = true
			}
		}
		out = append(out, replicas)
	}
	return out
}

// rackAlternated orders brokers taking one of each rack in turn (racks
// and the brokers in each in ascending order), as Kafka's
// getRackAlternatedBrokerList.
func rackAlternated(brokers []int32, racks map[int32]string) []int32 {
	byRack := map[string][]int32{}
	for _, id := range slices.Sorted(slices.Values(brokers)) {
		byRack[racks[id]] = append(byRack[racks[id]], id)
	}
	names := slices.Sorted(maps.Keys(byRack))
	out := make([]int32, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i++ {
		rack := names[i%len(names)]
		if ids := byRack[rack]; len(ids) > 0 {
			out = append(out, ids[0])
			byRack[rack] = ids[1:]
		}
	}
	return out
}

// replicationFactorError is Kafka's StripedReplicaPlacer's: with no usable
// broker at all it blames fencing and cordoning (cordoned.log.dirs).
func replicationFactorError(rf int, usable int) error {
	if usable == 0 {
		return fmt.Errorf("%w: Unable to replicate the partition %d time(s): All brokers are currently fenced, or have all their log directories cordoned.",
			ErrInvalidReplicationFactor, rf)
	}
	return fmt.Errorf("%w: Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
		ErrInvalidReplicationFactor, rf, rf, usable)
}

// checkAssignment validates one manual replica list.
func checkAssignment(img *MetadataImage, partition int32, replicas []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("%w: The manual partition assignment includes an empty replica list.", ErrInvalidReplicaAssignment)
	}
	seen := map[int32]bool{}
	for _, r := range replicas {
		if seen[r] {
			return fmt.Errorf("%w: The manual partition assignment includes the broker %d more than once.", ErrInvalidReplicaAssignment, r)
		}
		seen[r] = true
		if img.brokers[r] == nil {
			return fmt.Errorf("%w: The manual partition assignment includes broker %d, but no broker with that ID is registered.",
				ErrInvalidReplicaAssignment, r)
		}
	}
	if len(liveReplicas(img, replicas)) == 0 {
		return fmt.Errorf("%w: All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.",
			ErrInvalidReplicaAssignment, partition)
	}
	return nil
}

// liveReplicas is the initial ISR of a new partition: its unfenced replicas.
func liveReplicas(img *MetadataImage, replicas []int32) []int32 {
	out := make([]int32, 0, len(replicas))
	for _, r := range replicas {
		if b := img.brokers[r]; b != nil && !b.Fenced && !b.InControlledShutdown {
			out = append(out, r)
		}
	}
	return out
}

// newPartition builds the record of a new partition: the ISR is its live
// replicas and the leader the first of them. A replica on a broker with a
// single log dir is in that dir; on one with several it is UNASSIGNED
// until the broker places it (Kafka's ClusterControlManager.defaultDir).
func newPartition(img *MetadataImage, id TopicID, partition int32, replicas []int32) *PartitionRecord {
	isr := liveReplicas(img, replicas)
	leader := NoLeader
	if len(isr) > 0 {
		leader = isr[0]
	}
	rec := &PartitionRecord{PartitionID: partition, TopicID: id, Replicas: replicas, ISR: isr, Leader: leader}
	for i, r := range replicas {
		if b := img.brokers[r]; b != nil && len(b.LogDirs) == 1 {
			if rec.Directories == nil {
				rec.Directories = make([]DirectoryID, len(replicas))
			}
			rec.Directories[i] = b.LogDirs[0]
		}
	}
	return rec
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }
