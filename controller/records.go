package controller

import (
	"errors"
	"fmt"
)

// RecordType identifies a metadata record. The values are the apiKey of the
// same record in Kafka's metadata schema, so a dump of Spool's metadata log
// reads like Kafka's.
type RecordType uint8

const (
	RegisterBrokerRecordType           RecordType = 0
	UnregisterBrokerRecordType         RecordType = 1
	TopicRecordType                    RecordType = 2
	PartitionRecordType                RecordType = 3
	ConfigRecordType                   RecordType = 4
	PartitionChangeRecordType          RecordType = 5
	RemoveTopicRecordType              RecordType = 9
	FeatureLevelRecordType             RecordType = 12
	ProducerIDsRecordType              RecordType = 15
	BrokerRegistrationChangeRecordType RecordType = 17
)

// TopicID is a Kafka topic UUID. The zero value is never assigned to a topic.
type TopicID [16]byte

// Config resource types, as in Kafka's ConfigResource.Type.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
	// ResourceClientMetrics is a client-metrics subscription (KIP-714):
	// its configs are metrics, interval.ms and match.
	ResourceClientMetrics int8 = 16
	ResourceGroup         int8 = 32 // group configs (KIP-848, KIP-932)
)

// Sentinels of PartitionChangeRecord.
const (
	NoLeader       int32 = -1 // the partition has no leader
	NoLeaderChange int32 = -2 // PartitionChangeRecord leaves the leader alone
)

// LeaderRecoveryState is KIP-704's state of a partition's leader, as
// Kafka's PartitionRecord and PartitionChangeRecord carry it.
type LeaderRecoveryState int8

const (
	// LeaderRecovered: the leader's log is consistent with the ISR.
	LeaderRecovered LeaderRecoveryState = 0
	// LeaderRecovering: the leader was elected uncleanly and has not yet
	// told the controller it recovered (an AlterPartition with
	// RECOVERED); until then the ISR stays the leader alone.
	LeaderRecovering LeaderRecoveryState = 1
)

// String is Kafka's name of the state.
func (s LeaderRecoveryState) String() string {
	switch s {
	case LeaderRecovered:
		return "RECOVERED"
	case LeaderRecovering:
		return "RECOVERING"
	}
	return fmt.Sprintf("LeaderRecoveryState(%d)", int8(s))
}

// Record is one metadata record. Implementations are the *XxxRecord types.
type Record interface {
	// Type is the record's type code.
	Type() RecordType
	// version is the newest body version this build writes.
	version() uint8
	appendBody(dst []byte) []byte
	// decodeBody decodes a body of the given version (<= version()).
	decodeBody(r *reader, v uint8)
}

// TopicRecord creates a topic.
type TopicRecord struct {
	Name    string
	TopicID TopicID
}

// PartitionRecord creates a partition, or replaces it wholesale.
type PartitionRecord struct {
	PartitionID      int32
	TopicID          TopicID
	Replicas         []int32
	ISR              []int32
	RemovingReplicas []int32
	AddingReplicas   []int32
	Leader           int32
	LeaderEpoch      int32
	PartitionEpoch   int32
	// ELR and LastKnownELR are the Eligible Leader Replicas (KIP-966;
	// election.go). Written (as version 1) only when either is not empty,
	// so nodes that predate them read every record of a cluster that never
	// enabled eligible.leader.replicas.version.
	ELR          []int32
	LastKnownELR []int32
	// Directories are the log dirs (directory.id) holding each replica,
	// in Replicas order (KIP-858); the zero ID is UNASSIGNED (the broker
	// has not said yet). Written (as version 2) only when not empty.
	Directories []DirectoryID
	// LeaderRecoveryState (KIP-704): written (as version 3) only when
	// RECOVERING.
	LeaderRecoveryState LeaderRecoveryState
}

// DirectoryID is a log dir's directory.id (meta.properties).
// UnassignedDir (zero) is Kafka's DirectoryId.UNASSIGNED.
type DirectoryID = [16]byte

// UnassignedDir is the directory of a replica whose broker has not yet
// reported where it placed it (AssignReplicasToDirs).
var UnassignedDir DirectoryID

// PartitionChangeRecord changes a partition. Nil slices and NoLeaderChange
// mean "unchanged". Applying it bumps PartitionEpoch, and LeaderEpoch when the
// leader changes.
type PartitionChangeRecord struct {
	PartitionID      int32
	TopicID          TopicID
	ISR              []int32
	Leader           int32
	Replicas         []int32
	RemovingReplicas []int32
	AddingReplicas   []int32
	// ELR and LastKnownELR replace the partition's (nil: unchanged; written
	// as version 1 only when one is set).
	ELR          []int32
	LastKnownELR []int32
	// Directories replace the partition's, in Replicas order (nil:
	// unchanged, or remapped by replica when Replicas change; version 2).
	Directories []DirectoryID
	// LeaderRecoveryState replaces the partition's (nil: unchanged,
	// Kafka's -1; version 3).
	LeaderRecoveryState *LeaderRecoveryState
}

// ConfigRecord sets a dynamic config (Value nil deletes it). ResourceName ""
// with ResourceBroker is the cluster-wide default.
type ConfigRecord struct {
	ResourceType int8
	ResourceName string
	Name         string
	Value        *string
}

// RemoveTopicRecord deletes a topic, its partitions and its configs.
type RemoveTopicRecord struct {
	TopicID TopicID
}

// Endpoint is one listener of a broker.
type Endpoint struct {
	Name             string // listener name
	Host             string
	Port             uint16
	SecurityProtocol int16
}

// FeatureRange is a feature a broker supports.
type FeatureRange struct {
	Name                string
	MinSupportedVersion int16
	MaxSupportedVersion int16
}

// RegisterBrokerRecord registers (or re-registers) a broker.
type RegisterBrokerRecord struct {
	BrokerID             int32
	IncarnationID        [16]byte
	BrokerEpoch          int64
	Endpoints            []Endpoint
	Features             []FeatureRange
	Rack                 *string
	Fenced               bool
	InControlledShutdown bool
	// LogDirs are the broker's online log dirs (KIP-858; version 1, written
	// unless nil). Nil: the broker registered none, every dir counts as
	// online; empty: every dir it registered failed (a snapshot of a broker
	// whose dirs are all offline or full must keep that).
	LogDirs []DirectoryID
	// CordonedLogDirs are those of them that take no new replicas
	// (KIP-1066; version 2, written only when not empty).
	CordonedLogDirs []DirectoryID
}

// UnregisterBrokerRecord removes a broker registration.
type UnregisterBrokerRecord struct {
	BrokerID    int32
	BrokerEpoch int64
}

// BrokerRegistrationChangeRecord changes the fencing state of a broker.
// Fenced and InControlledShutdown: 1 set, -1 clear, 0 unchanged (as in Kafka).
type BrokerRegistrationChangeRecord struct {
	BrokerID             int32
	BrokerEpoch          int64
	Fenced               int8
	InControlledShutdown int8
	// LogDirs replace the broker's online log dirs (nil: unchanged;
	// version 1): a heartbeat reporting a failed dir drops it.
	LogDirs []DirectoryID
	// CordonedLogDirs replace the broker's cordoned dirs (nil: unchanged;
	// version 2), as its heartbeats report them.
	CordonedLogDirs []DirectoryID
}

// FeatureLevelRecord sets a finalized feature level; level 0 removes it.
type FeatureLevelRecord struct {
	Name         string
	FeatureLevel int16
}

// ProducerIDsRecord hands out the block of producer IDs below NextProducerID.
type ProducerIDsRecord struct {
	BrokerID       int32
	BrokerEpoch    int64
	NextProducerID int64
}

func (*TopicRecord) Type() RecordType                    { return TopicRecordType }
func (*PartitionRecord) Type() RecordType                { return PartitionRecordType }
func (*PartitionChangeRecord) Type() RecordType          { return PartitionChangeRecordType }
func (*ConfigRecord) Type() RecordType                   { return ConfigRecordType }
func (*RemoveTopicRecord) Type() RecordType              { return RemoveTopicRecordType }
func (*RegisterBrokerRecord) Type() RecordType           { return RegisterBrokerRecordType }
func (*UnregisterBrokerRecord) Type() RecordType         { return UnregisterBrokerRecordType }
func (*BrokerRegistrationChangeRecord) Type() RecordType { return BrokerRegistrationChangeRecordType }
func (*FeatureLevelRecord) Type() RecordType             { return FeatureLevelRecordType }
func (*ProducerIDsRecord) Type() RecordType              { return ProducerIDsRecordType }

func (*TopicRecord) version() uint8                    { return 0 }
func (*PartitionRecord) version() uint8                { return 3 }
func (*PartitionChangeRecord) version() uint8          { return 3 }
func (*ConfigRecord) version() uint8                   { return 0 }
func (*RemoveTopicRecord) version() uint8              { return 0 }
func (*RegisterBrokerRecord) version() uint8           { return 2 }
func (*UnregisterBrokerRecord) version() uint8         { return 0 }
func (*BrokerRegistrationChangeRecord) version() uint8 { return 2 }
func (*FeatureLevelRecord) version() uint8             { return 0 }
func (*ProducerIDsRecord) version() uint8              { return 0 }

func (r *TopicRecord) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Name)
	return appendUUID(dst, r.TopicID)
}

func (r *TopicRecord) decodeBody(d *reader, _ uint8) {
	r.Name = d.string()
	r.TopicID = d.uuid()
}

func (r *PartitionRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.PartitionID))
	dst = appendUUID(dst, r.TopicID)
	dst = appendInt32s(dst, r.Replicas)
	dst = appendInt32s(dst, r.ISR)
	dst = appendInt32s(dst, r.RemovingReplicas)
	dst = appendInt32s(dst, r.AddingReplicas)
	dst = appendVarint(dst, int64(r.Leader))
	dst = appendVarint(dst, int64(r.LeaderEpoch))
	dst = appendVarint(dst, int64(r.PartitionEpoch))
	if r.writeVersion() >= 1 {
		dst = appendInt32s(dst, r.ELR)
		dst = appendInt32s(dst, r.LastKnownELR)
	}
	if r.writeVersion() >= 2 {
		dst = appendUUIDs(dst, r.Directories)
	}
	if r.writeVersion() >= 3 {
		dst = appendVarint(dst, int64(r.LeaderRecoveryState))
	}
	return dst
}

func (r *PartitionRecord) writeVersion() uint8 {
	switch {
	case r.LeaderRecoveryState != LeaderRecovered:
		return 3
	case len(r.Directories) > 0:
		return 2
	case len(r.ELR) > 0 || len(r.LastKnownELR) > 0:
		return 1
	}
	return 0
}

func (r *PartitionRecord) decodeBody(d *reader, v uint8) {
	r.PartitionID = d.int32()
	r.TopicID = d.uuid()
	r.Replicas = d.int32s()
	r.ISR = d.int32s()
	r.RemovingReplicas = d.int32s()
	r.AddingReplicas = d.int32s()
	r.Leader = d.int32()
	r.LeaderEpoch = d.int32()
	r.PartitionEpoch = d.int32()
	if v >= 1 {
		r.ELR = d.int32s()
		r.LastKnownELR = d.int32s()
	}
	if v >= 2 {
		r.Directories = d.uuids()
	}
	if v >= 3 {
		r.LeaderRecoveryState = LeaderRecoveryState(d.int8())
	}
}

func (r *PartitionChangeRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.PartitionID))
	dst = appendUUID(dst, r.TopicID)
	dst = appendInt32s(dst, r.ISR)
	dst = appendVarint(dst, int64(r.Leader))
	dst = appendInt32s(dst, r.Replicas)
	dst = appendInt32s(dst, r.RemovingReplicas)
	dst = appendInt32s(dst, r.AddingReplicas)
	if r.writeVersion() >= 1 {
		dst = appendInt32s(dst, r.ELR)
		dst = appendInt32s(dst, r.LastKnownELR)
	}
	if r.writeVersion() >= 2 {
		dst = appendUUIDs(dst, r.Directories)
	}
	if r.writeVersion() >= 3 {
		dst = appendVarint(dst, int64(*r.LeaderRecoveryState))
	}
	return dst
}

func (r *PartitionChangeRecord) writeVersion() uint8 {
	switch {
	case r.LeaderRecoveryState != nil:
		return 3
	case r.Directories != nil:
		return 2
	case r.ELR != nil || r.LastKnownELR != nil:
		return 1
	}
	return 0
}

func (r *PartitionChangeRecord) decodeBody(d *reader, v uint8) {
	r.PartitionID = d.int32()
	r.TopicID = d.uuid()
	r.ISR = d.int32s()
	r.Leader = d.int32()
	r.Replicas = d.int32s()
	r.RemovingReplicas = d.int32s()
	r.AddingReplicas = d.int32s()
	if v >= 1 {
		r.ELR = d.int32s()
		r.LastKnownELR = d.int32s()
	}
	if v >= 2 {
		r.Directories = d.uuids()
	}
	if v >= 3 {
		if s := LeaderRecoveryState(d.int8()); s >= 0 {
			r.LeaderRecoveryState = &s
		}
	}
}

func (r *ConfigRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.ResourceType))
	dst = appendString(dst, r.ResourceName)
	dst = appendString(dst, r.Name)
	return appendNullableString(dst, r.Value)
}

func (r *ConfigRecord) decodeBody(d *reader, _ uint8) {
	r.ResourceType = d.int8()
	r.ResourceName = d.string()
	r.Name = d.string()
	r.Value = d.nullableString()
}

func (r *RemoveTopicRecord) appendBody(dst []byte) []byte { return appendUUID(dst, r.TopicID) }

func (r *RemoveTopicRecord) decodeBody(d *reader, _ uint8) { r.TopicID = d.uuid() }

func (r *RegisterBrokerRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.BrokerID))
	dst = appendUUID(dst, r.IncarnationID)
	dst = appendVarint(dst, r.BrokerEpoch)
	dst = appendUvarint(dst, uint64(len(r.Endpoints))+1)
	for _, e := range r.Endpoints {
		dst = appendString(dst, e.Name)
		dst = appendString(dst, e.Host)
		dst = appendUvarint(dst, uint64(e.Port))
		dst = appendVarint(dst, int64(e.SecurityProtocol))
	}
	dst = appendUvarint(dst, uint64(len(r.Features))+1)
	for _, f := range r.Features {
		dst = appendString(dst, f.Name)
		dst = appendVarint(dst, int64(f.MinSupportedVersion))
		dst = appendVarint(dst, int64(f.MaxSupportedVersion))
	}
	dst = appendNullableString(dst, r.Rack)
	dst = appendBool(dst, r.Fenced)
	dst = appendBool(dst, r.InControlledShutdown)
	if r.writeVersion() >= 1 {
		dst = appendUUIDs(dst, r.LogDirs)
	}
	if r.writeVersion() >= 2 {
		dst = appendUUIDs(dst, r.CordonedLogDirs)
	}
	return dst
}

func (r *RegisterBrokerRecord) writeVersion() uint8 {
	switch {
	case len(r.CordonedLogDirs) > 0:
		return 2
	case r.LogDirs != nil:
		// Empty but not nil: every registered dir failed. Version 0
		// would read back as nil, "registered none, every dir online".
		return 1
	}
	return 0
}

func (r *RegisterBrokerRecord) decodeBody(d *reader, v uint8) {
	r.BrokerID = d.int32()
	r.IncarnationID = d.uuid()
	r.BrokerEpoch = d.int64()
	if n := d.count(); n > 0 {
		r.Endpoints = make([]Endpoint, n)
		for i := range r.Endpoints {
			e := &r.Endpoints[i]
			e.Name = d.string()
			e.Host = d.string()
			e.Port = uint16(d.uvarint())
			e.SecurityProtocol = d.int16()
		}
	}
	if n := d.count(); n > 0 {
		r.Features = make([]FeatureRange, n)
		for i := range r.Features {
			f := &r.Features[i]
			f.Name = d.string()
			f.MinSupportedVersion = d.int16()
			f.MaxSupportedVersion = d.int16()
		}
	}
	r.Rack = d.nullableString()
	r.Fenced = d.bool()
	r.InControlledShutdown = d.bool()
	if v >= 1 {
		r.LogDirs = d.uuids()
	}
	if v >= 2 {
		r.CordonedLogDirs = d.uuids()
	}
}

func (r *UnregisterBrokerRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.BrokerID))
	return appendVarint(dst, r.BrokerEpoch)
}

func (r *UnregisterBrokerRecord) decodeBody(d *reader, _ uint8) {
	r.BrokerID = d.int32()
	r.BrokerEpoch = d.int64()
}

func (r *BrokerRegistrationChangeRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.BrokerID))
	dst = appendVarint(dst, r.BrokerEpoch)
	dst = appendVarint(dst, int64(r.Fenced))
	dst = appendVarint(dst, int64(r.InControlledShutdown))
	if r.writeVersion() >= 1 {
		dst = appendUUIDs(dst, r.LogDirs)
	}
	if r.writeVersion() >= 2 {
		dst = appendUUIDs(dst, r.CordonedLogDirs)
	}
	return dst
}

func (r *BrokerRegistrationChangeRecord) writeVersion() uint8 {
	switch {
	case r.CordonedLogDirs != nil:
		return 2
	case r.LogDirs != nil:
		return 1
	}
	return 0
}

func (r *BrokerRegistrationChangeRecord) decodeBody(d *reader, v uint8) {
	r.BrokerID = d.int32()
	r.BrokerEpoch = d.int64()
	r.Fenced = d.int8()
	r.InControlledShutdown = d.int8()
	if v >= 1 {
		r.LogDirs = d.uuids()
	}
	if v >= 2 {
		r.CordonedLogDirs = d.uuids()
	}
}

func (r *FeatureLevelRecord) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Name)
	return appendVarint(dst, int64(r.FeatureLevel))
}

func (r *FeatureLevelRecord) decodeBody(d *reader, _ uint8) {
	r.Name = d.string()
	r.FeatureLevel = d.int16()
}

func (r *ProducerIDsRecord) appendBody(dst []byte) []byte {
	dst = appendVarint(dst, int64(r.BrokerID))
	dst = appendVarint(dst, r.BrokerEpoch)
	return appendVarint(dst, r.NextProducerID)
}

func (r *ProducerIDsRecord) decodeBody(d *reader, _ uint8) {
	r.BrokerID = d.int32()
	r.BrokerEpoch = d.int64()
	r.NextProducerID = d.int64()
}

func newRecord(t RecordType) Record {
	switch t {
	case TopicRecordType:
		return &TopicRecord{}
	case PartitionRecordType:
		return &PartitionRecord{}
	case PartitionChangeRecordType:
		return &PartitionChangeRecord{}
	case ConfigRecordType:
		return &ConfigRecord{}
	case RemoveTopicRecordType:
		return &RemoveTopicRecord{}
	case RegisterBrokerRecordType:
		return &RegisterBrokerRecord{}
	case UnregisterBrokerRecordType:
		return &UnregisterBrokerRecord{}
	case BrokerRegistrationChangeRecordType:
		return &BrokerRegistrationChangeRecord{}
	case FeatureLevelRecordType:
		return &FeatureLevelRecord{}
	case ProducerIDsRecordType:
		return &ProducerIDsRecord{}
	case ClientQuotaRecordType:
		return &ClientQuotaRecord{}
	}
	return newSecurityRecord(t) // security.go
}

// batchMagic opens every encoded batch, and batchVersion is the batch
// framing version (see doc.go).
const (
	batchMagic   = 0xCB
	batchVersion = 0
)

// ErrCorruptRecord marks a metadata batch that cannot be decoded.
var ErrCorruptRecord = errors.New("controller: corrupt metadata record")

// EncodeBatch encodes records as one batch: the payload of one raft entry.
func EncodeBatch(records []Record) []byte {
	dst := make([]byte, 0, 64*len(records)+8)
	dst = append(dst, batchMagic, batchVersion)
	dst = appendUvarint(dst, uint64(len(records)))
	for _, rec := range records {
		dst = appendRecord(dst, rec)
	}
	return dst
}

// contentVersioned is a record whose written version depends on its
// content: newer fields are written only when set.
type contentVersioned interface{ writeVersion() uint8 }

func appendRecord(dst []byte, rec Record) []byte {
	v := rec.version()
	if cv, ok := rec.(contentVersioned); ok {
		v = cv.writeVersion()
	}
	dst = append(dst, byte(rec.Type()), v)
	// The body length is written after the body is known: reserve the
	// common case of a one-byte length and shift when it is longer.
	start := len(dst)
	dst = append(dst, 0)
	dst = rec.appendBody(dst)
	n := len(dst) - start - 1
	if n < 0x80 {
		dst[start] = byte(n)
		return dst
	}
	body := append([]byte(nil), dst[start+1:]...)
	dst = appendUvarint(dst[:start], uint64(n))
	return append(dst, body...)
}

// DecodeBatch decodes a batch written by EncodeBatch.
func DecodeBatch(b []byte) ([]Record, error) {
	if len(b) < 2 || b[0] != batchMagic {
		return nil, fmt.Errorf("%w: bad batch magic", ErrCorruptRecord)
	}
	if b[1] != batchVersion {
		return nil, fmt.Errorf("%w: unsupported batch version %d", ErrCorruptRecord, b[1])
	}
	r := &reader{b: b[2:]}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: record count %d exceeds batch size", ErrCorruptRecord, n)
	}
	records := make([]Record, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		if len(r.b) < 2 {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorruptRecord, i, errShort)
		}
		t, v := RecordType(r.b[0]), r.b[1]
		r.b = r.b[2:]
		rec := newRecord(t)
		if rec == nil {
			return nil, fmt.Errorf("%w: record %d: unknown type %d", ErrCorruptRecord, i, t)
		}
		if v > rec.version() {
			return nil, fmt.Errorf("%w: record %d: type %d version %d is newer than supported %d", ErrCorruptRecord, i, t, v, rec.version())
		}
		size := r.uvarint()
		if r.err != nil || size > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorruptRecord, i, errShort)
		}
		body := &reader{b: r.b[:size]}
		r.b = r.b[size:]
		rec.decodeBody(body, v)
		if err := body.complete(); err != nil {
			return nil, fmt.Errorf("%w: record %d type %d: %v", ErrCorruptRecord, i, t, err)
		}
		records = append(records, rec)
	}
	if err := r.complete(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptRecord, err)
	}
	return records, nil
}
