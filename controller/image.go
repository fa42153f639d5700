package controller

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// MetadataImage is an immutable view of the cluster metadata as of one
// applied raft index. Everything reachable from it (maps returned by Config,
// slices in PartitionImage, ...) is shared with later images and must not be
// modified by readers.
type MetadataImage struct {
	offset         uint64
	clusterID      string
	brokers        map[int32]*BrokerImage
	topics         map[string]*TopicImage
	topicsByID     map[TopicID]*TopicImage
	configs        map[ConfigResource]map[string]string
	features       map[string]int16
	nextProducerID int64
	clientQuotas   clientQuotaSet // quotas.go
	// sec holds SCRAM credentials and ACLs (security.go); nil: none.
	sec *securityState
}

// ConfigResource names a config resource: a topic, a broker, or (broker with
// Name "") the cluster default.
type ConfigResource struct {
	Type int8
	Name string
}

// BrokerImage is a registered broker.
type BrokerImage struct {
	ID                   int32
	IncarnationID        [16]byte
	Epoch                int64
	Endpoints            []Endpoint
	Features             []FeatureRange
	Rack                 *string
	Fenced               bool
	InControlledShutdown bool
	// LogDirs are the broker's online log dirs (KIP-858): those it
	// registered, less those a heartbeat reported failed. Nil for a
	// broker that registered none (every dir counts as online); empty, not
	// nil, when every dir it registered failed. Invariant: the difference
	// survives snapshots and replay (RegisterBrokerRecord writes an empty
	// list).
	LogDirs []DirectoryID
	// CordonedLogDirs are the broker's dirs that take no new replicas
	// (cordoned.log.dirs, KIP-1066), as its heartbeats report them.
	CordonedLogDirs []DirectoryID
}

// HasUncordonedDirs reports whether the broker may get new replicas: one
// of its online dirs is not cordoned (or it registered none).
func (b *BrokerImage) HasUncordonedDirs() bool {
	if b.LogDirs == nil {
		return true
	}
	for _, d := range b.LogDirs {
		if !slices.Contains(b.CordonedLogDirs, d) {
			return true
		}
	}
	return false
}

// HasOnlineDir reports whether dir is one of the broker's online log
// dirs; UNASSIGNED counts as online (Kafka's hasOnlineDir), as does any
// dir of a broker that registered none.
func (b *BrokerImage) HasOnlineDir(dir DirectoryID) bool {
	return dir == UnassignedDir || b.LogDirs == nil || slices.Contains(b.LogDirs, dir)
}

// Endpoint returns the endpoint of the named listener.
func (b *BrokerImage) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Name == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// TopicImage is a topic; Partitions[i] is partition i.
type TopicImage struct {
	Name       string
	ID         TopicID
	Partitions []*PartitionImage
}

// PartitionImage is the replica state of one partition.
type PartitionImage struct {
	Replicas         []int32
	ISR              []int32
	RemovingReplicas []int32
	AddingReplicas   []int32
	Leader           int32
	LeaderEpoch      int32
	PartitionEpoch   int32
	// ELR are the Eligible Leader Replicas (KIP-966): replicas that left
	// the ISR while it was below min.insync.replicas, so they hold every
	// committed record (the high watermark does not move then) and may
	// lead when the ISR is empty. LastKnownELR holds the last leader once
	// the partition has neither ISR nor ELR (election.go). Both nil when
	// empty; tracked only with eligible.leader.replicas.version >= 1.
	ELR          []int32
	LastKnownELR []int32
	// Directories are the log dirs holding each replica, in Replicas
	// order (UnassignedDir: not reported yet); nil when none is known.
	Directories []DirectoryID
	// LeaderRecoveryState is RECOVERING from an unclean election until
	// the leader's AlterPartition says RECOVERED (KIP-704). Invariant:
	// while RECOVERING the ISR is at most the leader.
	LeaderRecoveryState LeaderRecoveryState
}

// Directory returns the log dir holding broker id's replica
// (UnassignedDir if unknown or id is not a replica).
func (p *PartitionImage) Directory(id int32) DirectoryID {
	if i := slices.Index(p.Replicas, id); i >= 0 && i < len(p.Directories) {
		return p.Directories[i]
	}
	return UnassignedDir
}

// remapDirectories returns the directories of replicas, keeping each
// replica's from (old replicas, old dirs); nil when none is known.
func remapDirectories(oldReplicas []int32, oldDirs []DirectoryID, replicas []int32) []DirectoryID {
	if oldDirs == nil {
		return nil
	}
	out := make([]DirectoryID, len(replicas))
	known := false
	for i, r := range replicas {
		if j := slices.Index(oldReplicas, r); j >= 0 && j < len(oldDirs) {
			out[i] = oldDirs[j]
			known = known || out[i] != UnassignedDir
		}
	}
	if !known {
		return nil
	}
	return out
}

func emptyImage(clusterID string) *MetadataImage {
	return &MetadataImage{
		clusterID:      clusterID,
		brokers:        map[int32]*BrokerImage{},
		topics:         map[string]*TopicImage{},
		topicsByID:     map[TopicID]*TopicImage{},
		configs:        map[ConfigResource]map[string]string{},
		features:       map[string]int16{},
		nextProducerID: 0,
	}
}

// EmptyImage is the image before any metadata: offset 0, no brokers, no
// topics. A broker holds it until its first caught-up image.
func EmptyImage() *MetadataImage { return emptyImage("") }

// Offset is the raft index of the last metadata batch applied to the image.
func (m *MetadataImage) Offset() uint64 { return m.offset }

// ClusterID is the cluster's ID.
func (m *MetadataImage) ClusterID() string { return m.clusterID }

// Broker returns a registered broker, or nil.
func (m *MetadataImage) Broker(id int32) *BrokerImage { return m.brokers[id] }

// Brokers returns the registered brokers ordered by ID.
func (m *MetadataImage) Brokers() []*BrokerImage {
	out := slices.Collect(maps.Values(m.brokers))
	slices.SortFunc(out, func(a, b *BrokerImage) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Topic returns the named topic, or nil.
func (m *MetadataImage) Topic(name string) *TopicImage { return m.topics[name] }

// TopicByID returns the topic with the given ID, or nil.
func (m *MetadataImage) TopicByID(id TopicID) *TopicImage { return m.topicsByID[id] }

// NumTopics is the number of topics.
func (m *MetadataImage) NumTopics() int { return len(m.topics) }

// Topics returns all topics ordered by name.
func (m *MetadataImage) Topics() []*TopicImage {
	out := slices.Collect(maps.Values(m.topics))
	slices.SortFunc(out, func(a, b *TopicImage) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Config returns the dynamic configs of a resource (nil if none). The map is
// shared and must not be modified.
func (m *MetadataImage) Config(resourceType int8, name string) map[string]string {
	return m.configs[ConfigResource{resourceType, name}]
}

// ConfigsOfType returns the configs of every resource of one type, by
// name (e.g. the client-metrics subscriptions). The maps are the image's:
// read-only.
func (m *MetadataImage) ConfigsOfType(resourceType int8) map[string]map[string]string {
	out := map[string]map[string]string{}
	for res, cfg := range m.configs {
		if res.Type == resourceType {
			out[res.Name] = cfg
		}
	}
	return out
}

// Feature returns the finalized level of a feature (0 if unset).
func (m *MetadataImage) Feature(name string) int16 { return m.features[name] }

// Features returns a copy of the finalized feature levels.
func (m *MetadataImage) Features() map[string]int16 { return maps.Clone(m.features) }

// NextProducerID is the first producer ID not yet handed out.
func (m *MetadataImage) NextProducerID() int64 { return m.nextProducerID }

// builder applies one batch of records to an image copy-on-write: the first
// write to a map of the base image clones that map, so the base stays
// untouched and readers of it never see a partial batch.
type builder struct {
	img *MetadataImage
	// index is the raft index of the batch being applied: the broker
	// epoch of a registration written with BrokerEpoch -1.
	index uint64

	brokersCloned, topicsCloned, configsCloned, featuresCloned bool
	quotasCloned                                               bool
	secCloned                                                  bool
	ownTopics                                                  map[*TopicImage]bool
	ownConfigs                                                 map[ConfigResource]bool

	// elections counts the leader elections the batch's partition changes
	// make, as Kafka's TopicDelta does on replay (ControllerStats meters).
	elections electionCounts
}

// electionCounts are the leader elections of replayed partition changes:
// Unclean elects a leader that was neither in the ISR nor in the ELR (an
// unclean election, or the last known leader's recovery: Kafka's
// LeaderRecoveryState RECOVERING); FromELR elects one from the ELR.
type electionCounts struct {
	Unclean, FromELR int64
}

// countElection records the election a partition change makes, judged
// against the partition before it (Kafka's TopicDelta.updateElectionStats).
func (e *electionCounts) countElection(prev *PartitionImage, leader int32) {
	if leader < 0 || leader == prev.Leader {
		return
	}
	inELR := slices.Contains(prev.ELR, leader)
	if inELR {
		e.FromELR++
	}
	if !inELR && !slices.Contains(prev.ISR, leader) {
		e.Unclean++
	}
}

func newBuilder(base *MetadataImage) *builder {
	cp := *base
	return &builder{img: &cp, ownTopics: map[*TopicImage]bool{}, ownConfigs: map[ConfigResource]bool{}}
}

func (b *builder) brokers() map[int32]*BrokerImage {
	if !b.brokersCloned {
		b.img.brokers = maps.Clone(b.img.brokers)
		b.brokersCloned = true
	}
	return b.img.brokers
}

func (b *builder) topicMaps() (map[string]*TopicImage, map[TopicID]*TopicImage) {
	if !b.topicsCloned {
		b.img.topics = maps.Clone(b.img.topics)
		b.img.topicsByID = maps.Clone(b.img.topicsByID)
		b.topicsCloned = true
	}
	return b.img.topics, b.img.topicsByID
}

// mutableTopic returns a copy of the topic this batch may modify.
func (b *builder) mutableTopic(id TopicID) (*TopicImage, error) {
	t := b.img.topicsByID[id]
	if t == nil {
		return nil, fmt.Errorf("unknown topic id %x", id)
	}
	if b.ownTopics[t] {
		return t, nil
	}
	cp := &TopicImage{Name: t.Name, ID: t.ID, Partitions: slices.Clone(t.Partitions)}
	byName, byID := b.topicMaps()
	byName[cp.Name], byID[cp.ID] = cp, cp
	b.ownTopics[cp] = true
	return cp, nil
}

func (b *builder) configMap(res ConfigResource) map[string]string {
	if !b.configsCloned {
		b.img.configs = maps.Clone(b.img.configs)
		b.configsCloned = true
	}
	if !b.ownConfigs[res] {
		m := maps.Clone(b.img.configs[res])
		if m == nil {
			m = map[string]string{}
		}
		b.img.configs[res] = m
		b.ownConfigs[res] = true
	}
	return b.img.configs[res]
}

// apply applies one record. An error means the batch is invalid; the caller
// discards the builder so the batch is applied entirely or not at all.
func (b *builder) apply(rec Record) error {
	switch r := rec.(type) {
	case *TopicRecord:
		if r.TopicID == (TopicID{}) {
			return fmt.Errorf("topic %q has the zero id", r.Name)
		}
		if _, ok := b.img.topics[r.Name]; ok {
			return fmt.Errorf("topic %q already exists", r.Name)
		}
		if _, ok := b.img.topicsByID[r.TopicID]; ok {
			return fmt.Errorf("topic id %x already exists", r.TopicID)
		}
		t := &TopicImage{Name: r.Name, ID: r.TopicID}
		byName, byID := b.topicMaps()
		byName[t.Name], byID[t.ID] = t, t
		b.ownTopics[t] = true
	case *PartitionRecord:
		t, err := b.mutableTopic(r.TopicID)
		if err != nil {
			return err
		}
		p := &PartitionImage{
			Replicas: r.Replicas, ISR: r.ISR, RemovingReplicas: r.RemovingReplicas, AddingReplicas: r.AddingReplicas,
			Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch,
			ELR: nilIfEmpty(r.ELR), LastKnownELR: nilIfEmpty(r.LastKnownELR),
			LeaderRecoveryState: r.LeaderRecoveryState,
		}
		if len(r.Directories) == len(r.Replicas) && slices.ContainsFunc(r.Directories, func(d DirectoryID) bool { return d != UnassignedDir }) {
			p.Directories = r.Directories
		}
		switch n := int32(len(t.Partitions)); {
		case r.PartitionID == n:
			t.Partitions = append(t.Partitions, p)
		case r.PartitionID >= 0 && r.PartitionID < n:
			t.Partitions[r.PartitionID] = p
		default:
			return fmt.Errorf("topic %q: partition %d is not consecutive (has %d)", t.Name, r.PartitionID, n)
		}
	case *PartitionChangeRecord:
		t, err := b.mutableTopic(r.TopicID)
		if err != nil {
			return err
		}
		if r.PartitionID < 0 || int(r.PartitionID) >= len(t.Partitions) {
			return fmt.Errorf("topic %q: unknown partition %d", t.Name, r.PartitionID)
		}
		p := *t.Partitions[r.PartitionID]
		b.elections.countElection(&p, r.Leader)
		if r.ISR != nil {
			p.ISR = r.ISR
		}
		if r.Replicas != nil {
			p.Directories = remapDirectories(p.Replicas, p.Directories, r.Replicas)
			p.Replicas = r.Replicas
		}
		if r.Directories != nil {
			p.Directories = nil
			if len(r.Directories) == len(p.Replicas) && slices.ContainsFunc(r.Directories, func(d DirectoryID) bool { return d != UnassignedDir }) {
				p.Directories = r.Directories
			}
		}
		if r.RemovingReplicas != nil {
			p.RemovingReplicas = r.RemovingReplicas
		}
		if r.AddingReplicas != nil {
			p.AddingReplicas = r.AddingReplicas
		}
		if r.ELR != nil {
			p.ELR = nilIfEmpty(r.ELR)
		}
		if r.LastKnownELR != nil {
			p.LastKnownELR = nilIfEmpty(r.LastKnownELR)
		}
		if r.LeaderRecoveryState != nil {
			p.LeaderRecoveryState = *r.LeaderRecoveryState
		}
		if r.Leader != NoLeaderChange && r.Leader != p.Leader {
			p.Leader = r.Leader
			p.LeaderEpoch++
		}
		p.PartitionEpoch++
		t.Partitions[r.PartitionID] = &p
	case *RemoveTopicRecord:
		t := b.img.topicsByID[r.TopicID]
		if t == nil {
			return fmt.Errorf("remove unknown topic id %x", r.TopicID)
		}
		byName, byID := b.topicMaps()
		delete(byName, t.Name)
		delete(byID, t.ID)
		res := ConfigResource{ResourceTopic, t.Name}
		if _, ok := b.img.configs[res]; ok {
			b.configMap(res)
			delete(b.img.configs, res)
			delete(b.ownConfigs, res)
		}
	case *ConfigRecord:
		res := ConfigResource{r.ResourceType, r.ResourceName}
		m := b.configMap(res)
		if r.Value == nil {
			delete(m, r.Name)
		} else {
			m[r.Name] = *r.Value
		}
		if len(m) == 0 {
			delete(b.img.configs, res)
			delete(b.ownConfigs, res)
		}
	case *RegisterBrokerRecord:
		// Empty and nil lists encode alike; keep nil so a restored image
		// equals the original.
		if len(r.Endpoints) == 0 {
			r.Endpoints = nil
		}
		if len(r.Features) == 0 {
			r.Features = nil
		}
		epoch := r.BrokerEpoch
		if epoch < 0 {
			epoch = int64(b.index)
		}
		b.brokers()[r.BrokerID] = &BrokerImage{
			ID: r.BrokerID, IncarnationID: r.IncarnationID, Epoch: epoch,
			Endpoints: r.Endpoints, Features: r.Features, Rack: r.Rack,
			Fenced: r.Fenced, InControlledShutdown: r.InControlledShutdown,
			// Empty LogDirs stay empty: every dir failed (not "none registered").
			LogDirs: r.LogDirs, CordonedLogDirs: nilIfEmptyDirs(r.CordonedLogDirs),
		}
	case *UnregisterBrokerRecord:
		old := b.img.brokers[r.BrokerID]
		if old == nil || old.Epoch != r.BrokerEpoch {
			return fmt.Errorf("unregister broker %d epoch %d: no such registration", r.BrokerID, r.BrokerEpoch)
		}
		delete(b.brokers(), r.BrokerID)
	case *BrokerRegistrationChangeRecord:
		old := b.img.brokers[r.BrokerID]
		if old == nil || old.Epoch != r.BrokerEpoch {
			return fmt.Errorf("change broker %d epoch %d: no such registration", r.BrokerID, r.BrokerEpoch)
		}
		cp := *old
		switch r.Fenced {
		case 1:
			cp.Fenced = true
		case -1:
			cp.Fenced = false
		}
		switch r.InControlledShutdown {
		case 1:
			cp.InControlledShutdown = true
		case -1:
			cp.InControlledShutdown = false
		}
		if r.LogDirs != nil {
			cp.LogDirs = r.LogDirs // may be empty: every dir failed
		}
		if r.CordonedLogDirs != nil {
			cp.CordonedLogDirs = nilIfEmptyDirs(r.CordonedLogDirs)
		}
		b.brokers()[r.BrokerID] = &cp
	case *FeatureLevelRecord:
		if !b.featuresCloned {
			b.img.features = maps.Clone(b.img.features)
			b.featuresCloned = true
		}
		if r.FeatureLevel == 0 {
			delete(b.img.features, r.Name)
		} else {
			b.img.features[r.Name] = r.FeatureLevel
		}
	case *ProducerIDsRecord:
		if r.NextProducerID < b.img.nextProducerID {
			return fmt.Errorf("producer ids would go backwards: %d < %d", r.NextProducerID, b.img.nextProducerID)
		}
		b.img.nextProducerID = r.NextProducerID
	case *ClientQuotaRecord:
		return b.applyClientQuota(r)
	default:
		if ok, err := b.applySecurity(rec); ok { // security.go
			return err
		}
		return fmt.Errorf("unhandled record type %d", rec.Type())
	}
	return nil
}

// records returns the records that rebuild m from an empty image, in a
// deterministic order. Snapshots are written this way.
func (m *MetadataImage) records() []Record {
	var out []Record
	for _, name := range slices.Sorted(maps.Keys(m.features)) {
		out = append(out, &FeatureLevelRecord{Name: name, FeatureLevel: m.features[name]})
	}
	for _, br := range m.Brokers() {
		out = append(out, &RegisterBrokerRecord{
			BrokerID: br.ID, IncarnationID: br.IncarnationID, BrokerEpoch: br.Epoch,
			Endpoints: br.Endpoints, Features: br.Features, Rack: br.Rack,
			Fenced: br.Fenced, InControlledShutdown: br.InControlledShutdown, LogDirs: br.LogDirs,
			CordonedLogDirs: br.CordonedLogDirs,
		})
	}
	for _, t := range m.Topics() {
		out = append(out, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for i, p := range t.Partitions {
			out = append(out, &PartitionRecord{
				PartitionID: int32(i), TopicID: t.ID,
				Replicas: p.Replicas, ISR: p.ISR, RemovingReplicas: p.RemovingReplicas, AddingReplicas: p.AddingReplicas,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				ELR: p.ELR, LastKnownELR: p.LastKnownELR, Directories: p.Directories,
				LeaderRecoveryState: p.LeaderRecoveryState,
			})
		}
	}
	resources := slices.SortedFunc(maps.Keys(m.configs), func(a, b ConfigResource) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	})
	for _, res := range resources {
		cfg := m.configs[res]
		for _, k := range slices.Sorted(maps.Keys(cfg)) {
			v := cfg[k]
			out = append(out, &ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: k, Value: &v})
		}
	}
	out = append(out, m.clientQuotaRecords()...)
	if m.nextProducerID != 0 {
		out = append(out, &ProducerIDsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: m.nextProducerID})
	}
	return append(out, m.securityRecords()...)
}

// nilIfEmpty returns a, or nil when a has no members.
func nilIfEmpty(a []int32) []int32 {
	if len(a) == 0 {
		return nil
	}
	return a
}

func nilIfEmptyDirs(a []DirectoryID) []DirectoryID {
	if len(a) == 0 {
		return nil
	}
	return a
}
