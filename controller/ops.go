package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see controllerErrorCode): Kafka capitalizes it and ends it with a full stop.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// CreateTopic is one topic of a CreateTopics request.
type CreateTopic struct {
	Name              string
	NumPartitions     int32 // -1: DefaultNumPartitions; ignored with Assignments
	ReplicationFactor int16 // -1: DefaultReplicationFactor; ignored with Assignments
	// Assignments maps partition → replicas, for partitions 0..n-1.
	Assignments map[int32][]int32
	Configs     map[string]*string
}

// CreateTopicResult is the outcome for one topic. Err is nil on success.
type CreateTopicResult struct {
	Name              string
	TopicID           TopicID // zero for validateOnly and on error
	NumPartitions     int32
	ReplicationFactor int16
	Err               error
}

// CreateTopics creates topics in one atomic metadata batch; each topic is
// validated on its own, and only valid ones are created. With validateOnly
// nothing is written.
func (c *Controller) CreateTopics(ctx context.Context, topics []CreateTopic, validateOnly bool) []CreateTopicResult {
	results := make([]CreateTopicResult, len(topics))
	for i, t := range topics {
		results[i] = CreateTopicResult{Name: t.Name, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
	}
	done, err := c.beginOp(ctx)
	if err != nil {
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	defer done()

	img := c.Image()
	counts := map[string]int{}
	for _, t := range topics {
		counts[t.Name]++
	}
	// unified holds the '.'/'_'-normalized name of every topic that exists
	// or is being created, to reject colliding names as Kafka does.
	unified := make(map[string]string, len(img.topics)+len(topics))
	for name := range img.topics {
		unified[unifyTopicName(name)] = name
	}
	var records []Record
	var created []int
	for i, t := range topics {
		res := &results[i]
		if counts[t.Name] > 1 {
			res.Err = fmt.Errorf("%w: Found multiple entries for topic %s.", ErrInvalidRequest, t.Name)
			continue
		}
		recs, err := c.createTopicRecords(img, t, res, unified)
		if err != nil {
			res.Err = err
			continue
		}
		if err := applyPartitionChangeQuota(ctx, int(res.NumPartitions)); err != nil {
			res.Err, res.TopicID = err, TopicID{}
			continue
		}
		unified[unifyTopicName(t.Name)] = t.Name
		if validateOnly {
			res.TopicID = TopicID{}
			continue
		}
		records = append(records, recs...)
		created = append(created, i)
	}
	if _, err := c.apply(ctx, records); err != nil {
		for _, i := range created {
			results[i].Err, results[i].TopicID = err, TopicID{}
		}
	}
	return results
}

func (c *Controller) createTopicRecords(img *MetadataImage, t CreateTopic, res *CreateTopicResult, unified map[string]string) ([]Record, error) {
	if err := ValidateTopicName(t.Name); err != nil {
		return nil, err
	}
	if img.topics[t.Name] != nil {
		return nil, fmt.Errorf("%w: Topic '%s' already exists.", ErrTopicExists, t.Name)
	}
	if other, ok := unified[unifyTopicName(t.Name)]; ok {
		return nil, fmt.Errorf("%w: Topic '%s' collides with existing topic: %s", ErrInvalidTopic, t.Name, other)
	}
	var assignment [][]int32
	if len(t.Assignments) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
				ErrInvalidRequest)
		}
		assignment = make([][]int32, len(t.Assignments))
		for p, replicas := range t.Assignments {
			if p < 0 || int(p) >= len(assignment) {
				return nil, fmt.Errorf("%w: Partitions should be numbered consecutively starting at 0; partition %d is out of range.",
					ErrInvalidReplicaAssignment, p)
			}
			if err := checkAssignment(img, p, replicas); err != nil {
				return nil, err
			}
			assignment[p] = slices.Clone(replicas)
		}
		for _, replicas := range assignment {
			if len(replicas) != len(assignment[0]) {
				return nil, fmt.Errorf("%w: All partitions in the manual partition assignment must have the same number of replicas.",
					ErrInvalidReplicaAssignment)
			}
		}
	} else {
		n, rf := t.NumPartitions, int(t.ReplicationFactor)
		if n == -1 {
			n = c.cfg.DefaultNumPartitions
		}
		if rf == -1 {
			rf = int(c.cfg.DefaultReplicationFactor)
		}
		if n <= 0 {
			return nil, fmt.Errorf("%w: Number of partitions was set to an invalid non-positive value.", ErrInvalidPartitions)
		}
		if rf <= 0 {
			return nil, fmt.Errorf("%w: Replication factor must be larger than 0, or -1 to use the default value.", ErrInvalidReplicationFactor)
		}
		brokers := usableBrokers(img)
		if rf > len(brokers) {
			return nil, replicationFactorError(rf, len(brokers))
		}
		assignment = placeReplicasRackAware(brokers, brokerRacks(img, brokers), 0, n, rf)
	}
	cfg := map[string]string{}
	for k, v := range t.Configs {
		if v == nil {
			return nil, fmt.Errorf("%w: Null value not supported for topic configs: %s", ErrInvalidConfig, k)
		}
		cfg[k] = *v
	}
	if err := c.validateConfig(ResourceTopic, t.Name, cfg); err != nil {
		return nil, err
	}

	id := NewTopicID()
	for img.topicsByID[id] != nil {
		id = NewTopicID()
	}
	res.TopicID = id
	res.NumPartitions = int32(len(assignment))
	res.ReplicationFactor = int16(len(assignment[0]))
	records := make([]Record, 0, 1+len(assignment)+len(cfg))
	records = append(records, &TopicRecord{Name: t.Name, TopicID: id})
	for p, replicas := range assignment {
		records = append(records, newPartition(img, id, int32(p), replicas))
	}
	for _, k := range sortedKeys(cfg) {
		v := cfg[k]
		records = append(records, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: t.Name, Name: k, Value: &v})
	}
	return records, nil
}

func (c *Controller) validateConfig(resourceType int8, name string, merged map[string]string) error {
	if c.cfg.ValidateConfig == nil {
		return nil
	}
	if err := c.cfg.ValidateConfig(resourceType, name, merged); err != nil {
		if errors.Is(err, ErrInvalidRequest) { // the validator chose the code (client metrics)
			return err
		}
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// TopicRef names a topic by ID, or by Name when ID is zero.
type TopicRef struct {
	Name string
	ID   TopicID
}

// DeleteTopicResult is the outcome of deleting one topic.
type DeleteTopicResult struct {
	Name    string
	TopicID TopicID
	Err     error
}

// DeleteTopics deletes topics (with their partitions and configs) in one
// atomic metadata batch.
func (c *Controller) DeleteTopics(ctx context.Context, refs []TopicRef) []DeleteTopicResult {
	results := make([]DeleteTopicResult, len(refs))
	for i, r := range refs {
		results[i] = DeleteTopicResult{Name: r.Name, TopicID: r.ID}
	}
	done, err := c.beginOp(ctx)
	if err != nil {
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	defer done()

	img := c.Image()
	seen := map[TopicID]bool{}
	var records []Record
	var deleted []int
	for i, r := range refs {
		res := &results[i]
		var t *TopicImage
		if r.ID != (TopicID{}) {
			if t = img.topicsByID[r.ID]; t == nil {
				res.Err = fmt.Errorf("%w: %x", ErrUnknownTopicID, r.ID)
				continue
			}
		} else if t = img.topics[r.Name]; t == nil {
			res.Err = fmt.Errorf("%w: This server does not host this topic-partition: %s", ErrUnknownTopic, r.Name)
			continue
		}
		res.Name, res.TopicID = t.Name, t.ID
		if seen[t.ID] {
			res.Err = fmt.Errorf("%w: Duplicate topic in request: %s", ErrInvalidRequest, t.Name)
			continue
		}
		seen[t.ID] = true
		if err := applyPartitionChangeQuota(ctx, len(t.Partitions)); err != nil {
			res.Err = err
			continue
		}
		records = append(records, &RemoveTopicRecord{TopicID: t.ID})
		deleted = append(deleted, i)
	}
	if _, err := c.apply(ctx, records); err != nil {
		for _, i := range deleted {
			results[i].Err = err
		}
	}
	return results
}

// CreatePartitions grows topic to newTotal partitions. assignments, if not
// nil, gives the replicas of each new partition.
func (c *Controller) CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()

	img := c.Image()
	t := img.topics[topic]
	if t == nil {
		return fmt.Errorf("%w: This server does not host this topic-partition: %s", ErrUnknownTopic, topic)
	}
	cur := int32(len(t.Partitions))
	switch {
	case newTotal < cur:
		return fmt.Errorf("%w: Topic currently has %d partitions, which is higher than the requested %d.", ErrInvalidPartitions, cur, newTotal)
	case newTotal == cur:
		return fmt.Errorf("%w: Topic already has %d partitions.", ErrInvalidPartitions, cur)
	}
	add := newTotal - cur
	// Charged once the number of assignments is known to fit, as Kafka does.
	if assignments == nil || int32(len(assignments)) == add {
		if err := applyPartitionChangeQuota(ctx, int(add)); err != nil {
			return err
		}
	}
	rf := len(t.Partitions[0].Replicas)
	var assignment [][]int32
	if assignments != nil {
		if int32(len(assignments)) != add {
			return fmt.Errorf("%w: Attempted to add %d additional partition(s), but only %d assignment(s) were specified.",
				ErrInvalidReplicaAssignment, add, len(assignments))
		}
		for i, replicas := range assignments {
			if err := checkAssignment(img, cur+int32(i), replicas); err != nil {
				return err
			}
			if len(replicas) != rf {
				return fmt.Errorf("%w: The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).",
					ErrInvalidReplicaAssignment, len(replicas), rf)
			}
			assignment = append(assignment, slices.Clone(replicas))
		}
	} else {
		brokers := usableBrokers(img)
		if rf > len(brokers) {
			return replicationFactorError(rf, len(brokers))
		}
		assignment = placeReplicasRackAware(brokers, brokerRacks(img, brokers), cur, add, rf)
	}
	if validateOnly {
		return nil
	}
	records := make([]Record, 0, len(assignment))
	for i, replicas := range assignment {
		records = append(records, newPartition(img, t.ID, cur+int32(i), replicas))
	}
	_, err = c.apply(ctx, records)
	return err
}

// ConfigOpType is an incremental config operation, numbered as Kafka's
// AlterConfigOp.OpType.
type ConfigOpType int8

const (
	ConfigSet      ConfigOpType = 0
	ConfigDelete   ConfigOpType = 1
	ConfigAppend   ConfigOpType = 2 // add to a comma-separated list
	ConfigSubtract ConfigOpType = 3 // remove from a comma-separated list
)

// ConfigOp is one operation of IncrementalAlterConfigs.
type ConfigOp struct {
	Key   string
	Value *string
	Op    ConfigOpType
}

// AlterConfigs applies incremental config operations to one resource
// (ResourceTopic, or ResourceBroker with name "" for the cluster default or
// a broker ID). The merged result goes through Config.ValidateConfig.
func (c *Controller) AlterConfigs(ctx context.Context, resourceType int8, name string, ops []ConfigOp, validateOnly bool) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()

	img := c.Image()
	if err := checkResource(img, resourceType, name); err != nil {
		return err
	}
	cur := img.Config(resourceType, name)
	merged := maps.Clone(cur)
	if merged == nil {
		merged = map[string]string{}
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.Key] {
			return fmt.Errorf("%w: Error due to duplicate config keys", ErrInvalidRequest)
		}
		seen[op.Key] = true
		switch op.Op {
		case ConfigSet, ConfigAppend, ConfigSubtract:
			if op.Value == nil {
				return fmt.Errorf("%w: Null value not supported for : %s", ErrInvalidRequest, op.Key)
			}
		}
		switch op.Op {
		case ConfigSet:
			merged[op.Key] = *op.Value
		case ConfigDelete:
			delete(merged, op.Key)
		case ConfigAppend, ConfigSubtract:
			list := splitList(merged[op.Key])
			for _, item := range splitList(*op.Value) {
				i := slices.Index(list, item)
				if op.Op == ConfigAppend && i < 0 {
					list = append(list, item)
				} else if op.Op == ConfigSubtract && i >= 0 {
					list = slices.Delete(list, i, i+1)
				}
			}
			if len(list) == 0 && op.Op == ConfigSubtract {
				delete(merged, op.Key)
			} else {
				merged[op.Key] = strings.Join(list, ",")
			}
		default:
			return fmt.Errorf("%w: unknown config operation %d", ErrInvalidRequest, op.Op)
		}
	}
	return c.commitConfigsLocked(ctx, img, resourceType, name, cur, merged, validateOnly)
}

// ReplaceConfigs sets the whole dynamic config of a resource, as the legacy
// AlterConfigs API does: keys not in configs are removed.
func (c *Controller) ReplaceConfigs(ctx context.Context, resourceType int8, name string, configs map[string]string, validateOnly bool) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()
	img := c.Image()
	if err := checkResource(img, resourceType, name); err != nil {
		return err
	}
	return c.commitConfigsLocked(ctx, img, resourceType, name, img.Config(resourceType, name), maps.Clone(configs), validateOnly)
}

// commitConfigsLocked validates merged and writes the difference from cur.
// The caller holds opMu (beginOp).
func (c *Controller) commitConfigsLocked(ctx context.Context, img *MetadataImage, resourceType int8, name string, cur, merged map[string]string, validateOnly bool) error {
	if merged == nil {
		merged = map[string]string{}
	}
	if err := c.validateConfig(resourceType, name, merged); err != nil {
		return err
	}
	var records []Record
	var changes []*ConfigRecord
	for _, k := range sortedKeys(merged) {
		if v, ok := cur[k]; !ok || v != merged[k] {
			v := merged[k]
			changes = append(changes, &ConfigRecord{ResourceType: resourceType, ResourceName: name, Name: k, Value: &v})
		}
	}
	for _, k := range sortedKeys(cur) {
		if _, ok := merged[k]; !ok {
			changes = append(changes, &ConfigRecord{ResourceType: resourceType, ResourceName: name, Name: k})
		}
	}
	if err := checkMinISRChanges(img, changes); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	for _, r := range changes {
		records = append(records, r)
	}
	records = append(records, clearELRRecords(img, changes)...)
	_, err := c.apply(ctx, records)
	return err
}

// minInsyncReplicasConfig is the config whose changes touch ELRs.
const minInsyncReplicasConfig = "min.insync.replicas"

// checkMinISRChanges refuses, while ELR is enabled, what Kafka 4.3's
// ConfigurationControlManager refuses (isDisallowedBrokerMinIsrTransition,
// isDisallowedClusterMinIsrTransition): any change of min.insync.replicas
// on one broker (brokers would disagree on a partition's minimum, and the
// ELR rests on the controller's one value), and removing the cluster-level
// value.
func checkMinISRChanges(img *MetadataImage, changes []*ConfigRecord) error {
	if !elrEnabled(img) {
		return nil
	}
	for _, r := range changes {
		if r.Name != minInsyncReplicasConfig || r.ResourceType != ResourceBroker {
			continue
		}
		if r.ResourceName != "" {
			return fmt.Errorf("%w: Broker-level min.insync.replicas cannot be altered while ELR is enabled.", ErrInvalidConfig)
		}
		if r.Value == nil {
			return fmt.Errorf("%w: Cluster-level min.insync.replicas cannot be removed while ELR is enabled.", ErrInvalidConfig)
		}
	}
	return nil
}

// clearELRRecords empties the ELR and LastKnownELR of the partitions whose
// min.insync.replicas changes, as Kafka 4.3 does with a ClearElrRecord
// (createClearElrRecordsAsNeeded): a topic's change clears that topic, a
// cluster-level change every topic. Those replicas were kept as eligible
// because they left an ISR below the old minimum; under a new minimum that
// promise no longer holds (a larger minimum needs more of them, and the
// high watermark may have moved under a smaller one). Written as
// PartitionChangeRecords in the config change's own entry, so the image
// never shows the new minimum with the old ELR.
func clearELRRecords(img *MetadataImage, changes []*ConfigRecord) []Record {
	if !elrEnabled(img) {
		return nil
	}
	var topics []*TopicImage
	for _, r := range changes {
		if r.Name != minInsyncReplicasConfig {
			continue
		}
		if r.ResourceType == ResourceTopic {
			if t := img.Topic(r.ResourceName); t != nil {
				topics = append(topics, t)
			}
			continue
		}
		topics = img.Topics()
		break
	}
	var out []Record
	for _, t := range topics {
		for i, p := range t.Partitions {
			if len(p.ELR) == 0 && len(p.LastKnownELR) == 0 {
				continue
			}
			out = append(out, &PartitionChangeRecord{TopicID: t.ID, PartitionID: int32(i), Leader: NoLeaderChange,
				ELR: []int32{}, LastKnownELR: []int32{}})
		}
	}
	return out
}

func checkResource(img *MetadataImage, resourceType int8, name string) error {
	switch resourceType {
	case ResourceTopic:
		if err := ValidateTopicName(name); err != nil {
			return err
		}
		if img.topics[name] == nil {
			return fmt.Errorf("%w: Topic %s does not exist.", ErrUnknownTopic, name)
		}
	case ResourceBroker:
		if name != "" {
			if _, err := strconv.ParseInt(name, 10, 32); err != nil {
				return fmt.Errorf("%w: Illegal broker resource name %q: not an integer.", ErrInvalidRequest, name)
			}
		}
	case ResourceGroup:
		if name == "" {
			return fmt.Errorf("%w: Group name must not be empty.", ErrInvalidRequest)
		}
	case ResourceClientMetrics:
		if name == "" {
			return fmt.Errorf("%w: Subscription name can't be empty", ErrInvalidRequest)
		}
	default:
		return fmt.Errorf("%w: Unsupported resource type %d.", ErrInvalidRequest, resourceType)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// AllocateProducerIDs reserves n consecutive producer IDs and returns the
// first.
func (c *Controller) AllocateProducerIDs(ctx context.Context, n int32) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: producer id block size %d", ErrInvalidRequest, n)
	}
	done, err := c.beginOp(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	first := c.Image().NextProducerID()
	if _, err := c.apply(ctx, []Record{&ProducerIDsRecord{BrokerID: c.cfg.NodeID, BrokerEpoch: -1, NextProducerID: first + int64(n)}}); err != nil {
		return 0, err
	}
	return first, nil
}

// PartitionChange changes a partition's leader, ISR or replicas (an
// AlterPartition or a leader election).
type PartitionChange struct {
	TopicID   TopicID
	Partition int32
	Leader    int32   // NoLeaderChange keeps it; NoLeader leaves none
	ISR       []int32 // nil keeps it
	Replicas  []int32 // nil keeps it
	// PartitionEpoch is the epoch the change was computed from; -1 skips
	// the check. A mismatch yields ErrInvalidUpdateVersion.
	PartitionEpoch int32
}

// ChangePartition applies a PartitionChange and returns the new partition
// state.
func (c *Controller) ChangePartition(ctx context.Context, ch PartitionChange) (*PartitionImage, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	img := c.Image()
	t := img.topicsByID[ch.TopicID]
	if t == nil {
		return nil, fmt.Errorf("%w: %x", ErrUnknownTopicID, ch.TopicID)
	}
	if ch.Partition < 0 || int(ch.Partition) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownPartition, t.Name, ch.Partition)
	}
	p := t.Partitions[ch.Partition]
	if ch.PartitionEpoch >= 0 && ch.PartitionEpoch != p.PartitionEpoch {
		return nil, fmt.Errorf("%w: %s-%d is at partition epoch %d, not %d", ErrInvalidUpdateVersion, t.Name, ch.Partition, p.PartitionEpoch, ch.PartitionEpoch)
	}
	replicas := cmpOr(ch.Replicas, p.Replicas)
	isr := cmpOr(ch.ISR, p.ISR)
	for _, r := range isr {
		if !slices.Contains(replicas, r) {
			return nil, fmt.Errorf("%w: ISR member %d is not a replica of %s-%d", ErrIneligibleReplica, r, t.Name, ch.Partition)
		}
	}
	if ch.Leader < NoLeaderChange {
		return nil, fmt.Errorf("%w: invalid leader %d", ErrInvalidRequest, ch.Leader)
	}
	leader := ch.Leader
	if leader == NoLeaderChange {
		leader = p.Leader
	}
	if leader >= 0 && !slices.Contains(isr, leader) {
		return nil, fmt.Errorf("%w: leader %d is not in the ISR of %s-%d", ErrIneligibleReplica, leader, t.Name, ch.Partition)
	}
	rec := &PartitionChangeRecord{
		PartitionID: ch.Partition, TopicID: t.ID, Leader: ch.Leader,
		ISR: slices.Clone(ch.ISR), Replicas: slices.Clone(ch.Replicas),
	}
	if _, err := c.apply(ctx, []Record{rec}); err != nil {
		return nil, err
	}
	return c.Image().topicsByID[t.ID].Partitions[ch.Partition], nil
}

func cmpOr(a, b []int32) []int32 {
	if a != nil {
		return a
	}
	return b
}
