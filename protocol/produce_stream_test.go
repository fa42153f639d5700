package protocol

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/wire"
)

// flatProduce is a Produce request as both decoders can report it.
type flatProduce struct {
	TransactionalID *TransactionalID
	Acks            int16
	TimeoutMs       int32
	Topics          []flatTopic
}

type flatTopic struct {
	Name       TopicName
	TopicID    UUID
	Partitions []flatPartition
}

type flatPartition struct {
	Index   int32
	Records []byte
}

func flattenProduce(m *ProduceRequest) flatProduce {
	f := flatProduce{TransactionalID: m.TransactionalID, Acks: m.Acks, TimeoutMs: m.TimeoutMs}
	for _, t := range m.TopicData {
		ft := flatTopic{Name: t.Name, TopicID: t.TopicID}
		for _, p := range t.PartitionData {
			ft.Partitions = append(ft.Partitions, flatPartition{Index: p.Index, Records: p.Records})
		}
		f.Topics = append(f.Topics, ft)
	}
	return f
}

// streamProduce decodes body with a ProduceReader; after reports what is
// left in the stream behind the body.
func streamProduce(body []byte, trailer []byte, v int16) (f flatProduce, after []byte, err error) {
	br := bufio.NewReaderSize(bytes.NewReader(append(append([]byte(nil), body...), trailer...)), 16)
	pr, err := NewProduceReader(br, len(body), v)
	if err != nil {
		return f, nil, err
	}
	h, err := pr.Head()
	if err != nil {
		return f, nil, err
	}
	f.TransactionalID, f.Acks, f.TimeoutMs = h.TransactionalID, h.Acks, h.TimeoutMs
	for {
		t, ok, err := pr.NextTopic()
		if err != nil {
			return f, nil, err
		}
		if !ok {
			break
		}
		ft := flatTopic{Name: t.Name, TopicID: t.TopicID}
		for range t.Partitions {
			idx, recs, err := pr.NextPartition(func(n int) []byte { return make([]byte, n) })
			if err != nil {
				return f, nil, err
			}
			ft.Partitions = append(ft.Partitions, flatPartition{Index: idx, Records: recs})
		}
		f.Topics = append(f.Topics, ft)
	}
	if err := pr.Finish(); err != nil {
		return f, nil, err
	}
	rest := new(bytes.Buffer)
	_, _ = rest.ReadFrom(br)
	return f, rest.Bytes(), nil
}

func randomProduce(rng *rand.Rand, v int16) *ProduceRequest {
	m := &ProduceRequest{Acks: int16(rng.IntN(3) - 1), TimeoutMs: rng.Int32()}
	if v >= 3 && rng.IntN(2) == 0 {
		id := TransactionalID(fmt.Sprintf("txn-%d", rng.IntN(1000)))
		m.TransactionalID = &id
	}
	for range rng.IntN(4) {
		t := ProduceRequestTopicProduceData{Name: TopicName(fmt.Sprintf("topic-%d", rng.IntN(100)))}
		if v >= 13 {
			t.Name = ""
			for i := range t.TopicID {
				t.TopicID[i] = byte(rng.IntN(256))
			}
		}
		for range rng.IntN(4) {
			p := ProduceRequestPartitionProduceData{Index: rng.Int32N(50)}
			switch rng.IntN(4) {
			case 0: // null records
			case 1:
				p.Records = []byte{}
			default:
				p.Records = make([]byte, rng.IntN(300))
				for i := range p.Records {
					p.Records[i] = byte(rng.IntN(256))
				}
			}
			if v >= 9 && rng.IntN(3) == 0 {
				p.UnknownTags = []TaggedField{{Tag: 7, Data: []byte("x")}}
			}
			t.PartitionData = append(t.PartitionData, p)
		}
		if v >= 9 && rng.IntN(3) == 0 {
			t.UnknownTags = []TaggedField{{Tag: 3, Data: []byte("topic tag")}}
		}
		m.TopicData = append(m.TopicData, t)
	}
	if v >= 9 && rng.IntN(3) == 0 {
		m.UnknownTags = []TaggedField{{Tag: 1, Data: []byte{1, 2, 3}}}
	}
	return m
}

// compareProduceDecoders checks that the generated decoder and ProduceReader
// agree on body: both fail, or both succeed with the same request and the
// reader stops exactly at the end of the frame.
func compareProduceDecoders(t *testing.T, body []byte, v int16) {
	t.Helper()
	var m ProduceRequest
	r := wire.NewReader(body)
	genErr := m.Decode(r, v)
	trailer := []byte("next frame")
	got, after, err := streamProduce(body, trailer, v)
	if genErr != nil {
		require.Error(t, err, "generated decoder: %v", genErr)
		return
	}
	require.NoError(t, err)
	require.Equal(t, flattenProduce(&m), got)
	require.Equal(t, trailer, after)
}

func TestProduceReaderMatchesGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int16(0); v <= 13; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			for range 200 {
				body := randomProduce(rng, v).AppendTo(nil, v)
				compareProduceDecoders(t, body, v)
				// Bytes after the body are ignored, as ParseRequest ignores them.
				compareProduceDecoders(t, append(body, 0xde, 0xad), v)
				// Every truncation fails in both.
				for _, n := range []int{0, 1, len(body) / 3, len(body) / 2, len(body) - 1} {
					if n >= 0 && n < len(body) {
						compareProduceDecoders(t, body[:n], v)
					}
				}
				// Corruptions agree.
				for range 5 {
					c := append([]byte(nil), body...)
					c[rng.IntN(len(c))] = byte(rng.IntN(256))
					compareProduceDecoders(t, c, v)
				}
			}
		})
	}
}

func TestProduceReaderErrors(t *testing.T) {
	_, err := NewProduceReader(bufio.NewReader(bytes.NewReader(nil)), 0, 14)
	require.ErrorIs(t, err, ErrUnsupportedVersion)

	// A null topic array is malformed.
	body := wire.AppendInt32(wire.AppendInt32(wire.AppendInt16(wire.AppendInt16(nil, -1), 1), 1000), -1)
	_, _, err = streamProduce(body, nil, 3)
	require.ErrorIs(t, err, ErrNullField)

	// A count the frame cannot hold is rejected before anything is read.
	body = wire.AppendInt32(wire.AppendInt32(wire.AppendInt16(wire.AppendInt16(nil, -1), 1), 1000), 1<<20)
	_, _, err = streamProduce(body, nil, 3)
	require.ErrorIs(t, err, wire.ErrInvalid)

	// Skipping partitions is a caller bug, reported as such.
	m := &ProduceRequest{Acks: 1, TopicData: []ProduceRequestTopicProduceData{{Name: "t",
		PartitionData: []ProduceRequestPartitionProduceData{{Index: 0, Records: []byte("abc")}}}}}
	body = m.AppendTo(nil, 9)
	pr, err := NewProduceReader(bufio.NewReader(bytes.NewReader(body)), len(body), 9)
	require.NoError(t, err)
	_, err = pr.Head()
	require.NoError(t, err)
	_, ok, err := pr.NextTopic()
	require.NoError(t, err)
	require.True(t, ok)
	_, _, err = pr.NextTopic()
	require.Error(t, err)
}

func FuzzProduceReader(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for v := int16(0); v <= 13; v++ {
		f.Add(randomProduce(rng, v).AppendTo(nil, v), v)
	}
	f.Fuzz(func(t *testing.T, body []byte, v int16) {
		if v < 0 || v > 13 {
			return
		}
		compareProduceDecoders(t, body, v)
	})
}

func TestParseRequestHeader(t *testing.T) {
	clientID := "producer-1"
	for _, v := range []int16{3, 8, 9, 13} {
		hdr := RequestHeader{RequestAPIKey: KeyProduce, RequestAPIVersion: v, CorrelationID: 42, ClientID: &clientID}
		req := &ProduceRequest{Acks: -1, TimeoutMs: 1000, TopicData: []ProduceRequestTopicProduceData{{Name: "t"}}}
		frame, err := AppendRequest(nil, &hdr, req)
		require.NoError(t, err)
		frame = frame[4:] // size prefix
		want, _, err := ParseRequest(frame)
		require.NoError(t, err)
		got, n, err := ParseRequestHeader(frame)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, req.AppendTo(nil, v), frame[n:], "v%d: the body follows the header", v)
		_, _, err = ParseRequestHeader(frame[:n-1])
		require.ErrorIs(t, err, wire.ErrShort)
	}
	_, _, err := ParseRequestHeader([]byte{0, 0, 0, 99, 0, 0, 0, 1})
	require.ErrorIs(t, err, ErrUnsupportedVersion)
}
