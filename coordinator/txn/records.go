package txn

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spool-broker/spool/protocol/wire"
	"github.com/spool-broker/spool/storage"
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

// TopicPartition names a partition of a transaction. It is
// storage.TopicPartition, the one name every package gives a partition.
type TopicPartition = storage.TopicPartition

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
	// NextProducerID is the producer id a KIP-890 commit or abort hands
	// over to when the epoch is exhausted: set in PrepareCommit/PrepareAbort,
	// installed (epoch 0) by CompleteCommit/CompleteAbort. -1 none.
	NextProducerID int64
	// ClientTransactionVersion is the transaction.version the client spoke
	// in this transaction: 2 (KIP-890 part 2) bumps the epoch on every
	// EndTxn; 0 does not.
	ClientTransactionVersion int16
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

// EncodeValue writes a TransactionLogValue. Version 0 is what Kafka writes
// while transaction.version < 2:
//
//	ProducerId i64 | ProducerEpoch i16 | TransactionTimeoutMs i32 |
//	TransactionStatus i8 | TransactionPartitions [Topic string, PartitionIds [i32]] (nullable) |
//	TransactionLastUpdateTimestampMs i64 | TransactionStartTimestampMs i64
//
// Version 1 (transaction.version 2) has the same fields in the flexible
// encoding (compact strings and arrays, length+1 as uvarint, an empty
// tagged-field section after each partitions entry) followed by the
// value's tagged fields, each written only when not at its default:
//
//	tag 0 PreviousProducerId i64 (default -1)
//	tag 1 NextProducerId i64 (default -1)
//	tag 2 ClientTransactionVersion i16 (default 0)
//
// Both are preceded by the version i16.
func EncodeValue(m *Metadata, version int16) []byte {
	flexible := version >= 1
	b := wire.AppendInt16(nil, version)
	b = wire.AppendInt64(b, m.ProducerID)
	b = wire.AppendInt16(b, m.ProducerEpoch)
	b = wire.AppendInt32(b, m.TimeoutMs)
	b = wire.AppendInt8(b, int8(m.State))
	arrayLen := func(b []byte, n int) []byte {
		if flexible {
			return wire.AppendCompactArrayLen(b, n)
		}
		return wire.AppendArrayLen(b, n)
	}
	if len(m.Partitions) == 0 && m.State != Ongoing && m.State != PrepareCommit && m.State != PrepareAbort {
		b = arrayLen(b, -1)
	} else {
		var topics []string
		for _, tp := range m.Partitions {
			if len(topics) == 0 || topics[len(topics)-1] != tp.Topic {
				topics = append(topics, tp.Topic)
			}
		}
		b = arrayLen(b, len(topics))
		for _, t := range topics {
			if flexible {
				b = wire.AppendCompactString(b, t)
			} else {
				b = wire.AppendString(b, t)
			}
			n := 0
			for _, tp := range m.Partitions {
				if tp.Topic == t {
					n++
				}
			}
			b = arrayLen(b, n)
			for _, tp := range m.Partitions {
				if tp.Topic == t {
					b = wire.AppendInt32(b, tp.Partition)
				}
			}
			if flexible {
				b = wire.AppendUvarint(b, 0) // no tagged fields
			}
		}
	}
	b = wire.AppendInt64(b, m.UpdateMs)
	b = wire.AppendInt64(b, m.StartMs)
	if !flexible {
		return b
	}
	var tags [][]byte
	if m.PrevProducerID != -1 {
		tags = append(tags, tagged(0, wire.AppendInt64(nil, m.PrevProducerID)))
	}
	if m.NextProducerID != -1 {
		tags = append(tags, tagged(1, wire.AppendInt64(nil, m.NextProducerID)))
	}
	if m.ClientTransactionVersion != 0 {
		tags = append(tags, tagged(2, wire.AppendInt16(nil, m.ClientTransactionVersion)))
	}
	b = wire.AppendUvarint(b, uint32(len(tags)))
	for _, t := range tags {
		b = append(b, t...)
	}
	return b
}

func tagged(tag uint32, data []byte) []byte {
	b := wire.AppendUvarint(nil, tag)
	b = wire.AppendUvarint(b, uint32(len(data)))
	return append(b, data...)
}

// DecodeValue reads a TransactionLogValue of version 0 or 1. Unknown tagged
// fields are skipped, as Kafka does.
func DecodeValue(id string, b []byte) (*Metadata, error) {
	r := wire.NewReader(b)
	v := r.Int16()
	if v != 0 && v != 1 {
		return nil, fmt.Errorf("%w: value version %d of %q not supported", ErrCorruptRecord, v, id)
	}
	flexible := v == 1
	m := &Metadata{TransactionalID: id, PrevProducerID: -1, NextProducerID: -1, LastProducerEpoch: -1}
	m.ProducerID = r.Int64()
	m.ProducerEpoch = r.Int16()
	m.TimeoutMs = r.Int32()
	m.State = State(r.Int8())
	arrayLen := func() int {
		if flexible {
			return r.CompactArrayLen(4)
		}
		return r.ArrayLen(4)
	}
	n := arrayLen()
	for i := 0; i < n && r.Err() == nil; i++ {
		var topic string
		if flexible {
			topic = r.CompactString()
		} else {
			topic = r.String()
		}
		k := arrayLen()
		for j := 0; j < k && r.Err() == nil; j++ {
			m.addPartition(TopicPartition{Topic: topic, Partition: r.Int32()})
		}
		if flexible {
			skipTags(r)
		}
	}
	m.UpdateMs = r.Int64()
	m.StartMs = r.Int64()
	if flexible {
		nt := r.Uvarint()
		for i := uint32(0); i < nt && r.Err() == nil; i++ {
			tag, size := r.Uvarint(), r.Uvarint()
			data := wire.NewReader(r.Raw(int(size)))
			switch tag {
			case 0:
				m.PrevProducerID = data.Int64()
			case 1:
				m.NextProducerID = data.Int64()
			case 2:
				m.ClientTransactionVersion = data.Int16()
			}
			if err := data.Err(); err != nil {
				r.Fail(err)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: value of %q: %v", ErrCorruptRecord, id, err)
	}
	return m, nil
}

// skipTags skips a tagged-field section.
func skipTags(r *wire.Reader) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		r.Uvarint()
		r.Raw(int(r.Uvarint()))
	}
}
