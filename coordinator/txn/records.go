package txn

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spool-broker/spool/protocol/wire"
)

// ErrCorruptRecord means a __transaction_state record could not be decoded.
var ErrCorruptRecord = errors.New("txn: corrupt __transaction_state record")

// State is a transaction's state, numbered as TransactionLogValue's
// TransactionStatus byte.
type State int8

// Kafka's TransactionState values.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is the name DescribeTransactions and ListTransactions use.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("Unknown(%d)", int8(s))
}

// ParseState maps a state name back; ok is false for unknown names.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// TopicPartition names a partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Metadata is a transactional id's state: what TransactionLogValue holds.
type Metadata struct {
	TransactionalID string
	ProducerID      int64
	// PrevProducerID is the id before the last epoch exhaustion (-1 none).
	PrevProducerID int64
	ProducerEpoch  int16
	// LastProducerEpoch is the epoch before the last bump, so a retried
	// InitProducerId is recognised (-1 none). Not persisted in v0 records.
	LastProducerEpoch int16
	TimeoutMs         int32
	State             State
	Partitions        []TopicPartition // sorted, no duplicates
	StartMs           int64            // when the transaction began, -1 if none
	UpdateMs          int64
}

func (m *Metadata) clone() *Metadata {
	c := *m
	c.Partitions = append([]TopicPartition(nil), m.Partitions...)
	return &c
}

func (m *Metadata) hasPartition(tp TopicPartition) bool {
	i := sort.Search(len(m.Partitions), func(i int) bool { return !lessTP(m.Partitions[i], tp) })
	return i < len(m.Partitions) && m.Partitions[i] == tp
}

func (m *Metadata) addPartition(tp TopicPartition) {
	i := sort.Search(len(m.Partitions), func(i int) bool { return !lessTP(m.Partitions[i], tp) })
	if i < len(m.Partitions) && m.Partitions[i] == tp {
		return
	}
	m.Partitions = append(m.Partitions, TopicPartition{})
	copy(m.Partitions[i+1:], m.Partitions[i:])
	m.Partitions[i] = tp
}

func lessTP(a, b TopicPartition) bool {
	if a.Topic != b.Topic {
		return a.Topic < b.Topic
	}
	return a.Partition < b.Partition
}

// EncodeKey writes a TransactionLogKey (version 0): the transactional id.
//
//	+-------------+--------------------------------+
//	| version i16 | TransactionalId string (i16 n) |
//	+-------------+--------------------------------+
func EncodeKey(transactionalID string) []byte {
	b := wire.AppendInt16(nil, 0)
	return wire.AppendString(b, transactionalID)
}

// DecodeKey reads a TransactionLogKey.
func DecodeKey(b []byte) (string, error) {
	r := wire.NewReader(b)
	v := r.Int16()
	id := r.String()
	if err := r.Err(); err != nil || v != 0 {
		return "", fmt.Errorf("%w: key version %d: %v", ErrCorruptRecord, v, err)
	}
	return id, nil
}

// EncodeValue writes a TransactionLogValue at version 0, which is what
// Kafka writes while transaction.version < 2:
//
//	ProducerId i64 | ProducerEpoch i16 | TransactionTimeoutMs i32 |
//	TransactionStatus i8 | TransactionPartitions [Topic string, PartitionIds [i32]] (nullable) |
//	TransactionLastUpdateTimestampMs i64 | TransactionStartTimestampMs i64
//
// preceded by the version i16.
func EncodeValue(m *Metadata) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt64(b, m.ProducerID)
	b = wire.AppendInt16(b, m.ProducerEpoch)
	b = wire.AppendInt32(b, m.TimeoutMs)
	b = wire.AppendInt8(b, int8(m.State))
	if len(m.Partitions) == 0 && m.State != Ongoing && m.State != PrepareCommit && m.State != PrepareAbort {
		b = wire.AppendArrayLen(b, -1)
	} else {
		var topics []string
		for _, tp := range m.Partitions {
			if len(topics) == 0 || topics[len(topics)-1] != tp.Topic {
				topics = append(topics, tp.Topic)
			}
		}
		b = wire.AppendArrayLen(b, len(topics))
		for _, t := range topics {
			b = wire.AppendString(b, t)
			n := 0
			for _, tp := range m.Partitions {
				if tp.Topic == t {
					n++
				}
			}
			b = wire.AppendArrayLen(b, n)
			for _, tp := range m.Partitions {
				if tp.Topic == t {
					b = wire.AppendInt32(b, tp.Partition)
				}
			}
		}
	}
	b = wire.AppendInt64(b, m.UpdateMs)
	return wire.AppendInt64(b, m.StartMs)
}

// DecodeValue reads a TransactionLogValue of version 0 (and the leading
// non-tagged fields of version 1, which are the same).
func DecodeValue(id string, b []byte) (*Metadata, error) {
	r := wire.NewReader(b)
	v := r.Int16()
	if v != 0 {
		return nil, fmt.Errorf("%w: value version %d of %q not supported", ErrCorruptRecord, v, id)
	}
	m := &Metadata{TransactionalID: id, PrevProducerID: -1, LastProducerEpoch: -1}
	m.ProducerID = r.Int64()
	m.ProducerEpoch = r.Int16()
	m.TimeoutMs = r.Int32()
	m.State = State(r.Int8())
	n := r.ArrayLen(4)
	for i := 0; i < n && r.Err() == nil; i++ {
		topic := r.String()
		k := r.ArrayLen(4)
		for j := 0; j < k && r.Err() == nil; j++ {
			m.addPartition(TopicPartition{Topic: topic, Partition: r.Int32()})
		}
	}
	m.UpdateMs = r.Int64()
	m.StartMs = r.Int64()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: value of %q: %v", ErrCorruptRecord, id, err)
	}
	return m, nil
}
