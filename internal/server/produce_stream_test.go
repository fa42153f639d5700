package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// produceConn writes Produce requests built with Spool's own protocol types
// on one connection and reads the answers, so tests control pipelining,
// versions and client ids exactly.
type produceConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialProduce(t *testing.T, addr string) *produceConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	return &produceConn{t: t, c: c, r: bufio.NewReader(c)}
}

func produceFrame(t *testing.T, corr int32, v int16, clientID string, req *protocol.ProduceRequest) []byte {
	t.Helper()
	hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyProduce, RequestAPIVersion: v, CorrelationID: corr, ClientID: &clientID}
	b, err := protocol.AppendRequest(nil, &hdr, req)
	require.NoError(t, err)
	return b
}

func (pc *produceConn) write(frames ...[]byte) {
	pc.t.Helper()
	var all []byte
	for _, f := range frames {
		all = append(all, f...)
	}
	_, err := pc.c.Write(all)
	require.NoError(pc.t, err)
}

func (pc *produceConn) read(v int16) (int32, *protocol.ProduceResponse) {
	pc.t.Helper()
	var size [4]byte
	_, err := io.ReadFull(pc.r, size[:])
	require.NoError(pc.t, err)
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(pc.r, frame)
	require.NoError(pc.t, err)
	hdr, resp, err := protocol.DecodeResponse(frame, protocol.KeyProduce, v)
	require.NoError(pc.t, err)
	return hdr.CorrelationID, resp.(*protocol.ProduceResponse)
}

// testBatch is a v2 batch of n records whose values start with prefix and
// are size bytes long; idempotent batches carry producer id, epoch and seq.
func testBatch(t *testing.T, prefix string, n, size int, pid int64, epoch int16, seq int32) []byte {
	t.Helper()
	o := records.NewBatchOptions()
	if pid >= 0 {
		o.ProducerID, o.ProducerEpoch, o.BaseSequence = pid, epoch, seq
	}
	recs := make([]records.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		v := fmt.Sprintf("%s-%d", prefix, i)
		if len(v) < size {
			v += strings.Repeat("x", size-len(v))
		}
		recs[i] = records.Record{Timestamp: now, Value: []byte(v)}
	}
	b, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	return b
}

func partitionData(index int32, recs []byte) protocol.ProduceRequestPartitionProduceData {
	return protocol.ProduceRequestPartitionProduceData{Index: index, Records: recs}
}

// TestProduceStreamedPipelined writes many multi-partition Produce requests
// on one connection without waiting for answers: every version from 3 to
// 11, acks=0 among them, small and multi-MiB requests, one with a client id
// too long to stream (answered from the whole frame), and in each request
// partitions that fail (unknown partition and topic, corrupt batch, two
// batches in v3+) between good ones. Each answer must come back in request
// order with the right code per partition, and the logs must hold exactly
// the good batches, in order, each once.
func TestProduceStreamedPipelined(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "s1", 3, nil)
	createTopic(t, n.addr, "s2", 1, nil)
	pc := dialProduce(t, n.addr)

	type sent struct {
		corr int32
		v    int16
		acks int16
		// want per topic, in order: the error code of each partition.
		want map[string][]int16
	}
	var (
		frames  [][]byte
		plan    []sent
		wantS1  = map[int32][]string{}
		wantS2  []string
		nextOff = map[string]int64{}
	)
	versions := []int16{3, 5, 7, 8, 9, 10, 11}
	for i := 0; i < 21; i++ {
		v := versions[i%len(versions)]
		acks := int16(1)
		if i%5 == 4 {
			acks = 0
		}
		if i%3 == 0 {
			acks = -1
		}
		size := 100
		if i%4 == 1 {
			size = 64 << 10 // 3 records of 64 KiB per good partition: ~1 MiB requests
		}
		p0 := fmt.Sprintf("r%d-s1p0", i)
		p1 := fmt.Sprintf("r%d-s1p1", i)
		s2 := fmt.Sprintf("r%d-s2", i)
		corrupt := testBatch(t, "corrupt", 2, size, -1, 0, 0)
		corrupt[len(corrupt)-3] ^= 0xff // breaks the CRC
		twoBatches := append(testBatch(t, "two-a", 1, 10, -1, 0, 0), testBatch(t, "two-b", 1, 10, -1, 0, 0)...)
		req := &protocol.ProduceRequest{Acks: acks, TimeoutMs: 5000, TopicData: []protocol.ProduceRequestTopicProduceData{
			{Name: "s1", PartitionData: []protocol.ProduceRequestPartitionProduceData{
				partitionData(0, testBatch(t, p0, 3, size, -1, 0, 0)),
				partitionData(7, testBatch(t, "unknown-partition", 1, 10, -1, 0, 0)),
				partitionData(2, corrupt),
				partitionData(1, testBatch(t, p1, 3, size, -1, 0, 0)),
				partitionData(2, twoBatches),
			}},
			{Name: "nope", PartitionData: []protocol.ProduceRequestPartitionProduceData{
				partitionData(0, testBatch(t, "unknown-topic", 1, 10, -1, 0, 0)),
			}},
			{Name: "s2", PartitionData: []protocol.ProduceRequestPartitionProduceData{
				partitionData(0, testBatch(t, s2, 3, size, -1, 0, 0)),
			}},
		}}
		clientID := "pipelined"
		if i == 10 {
			clientID = strings.Repeat("c", 20<<10) // past the reader's buffer: read whole
		}
		frames = append(frames, produceFrame(t, int32(100+i), v, clientID, req))
		for j := range 3 {
			wantS1[0] = append(wantS1[0], fmt.Sprintf("%s-%d", p0, j))
			wantS1[1] = append(wantS1[1], fmt.Sprintf("%s-%d", p1, j))
			wantS2 = append(wantS2, fmt.Sprintf("%s-%d", s2, j))
		}
		plan = append(plan, sent{corr: int32(100 + i), v: v, acks: acks, want: map[string][]int16{
			"s1":   {0, errcode.UnknownTopicOrPartition, errcode.CorruptMessage, 0, errcode.InvalidRecord},
			"nope": {errcode.UnknownTopicOrPartition},
			"s2":   {0},
		}})
	}
	pc.write(frames...)

	for _, p := range plan {
		if p.acks == 0 { // appended, not answered
			for _, key := range []string{"s1/0", "s1/1", "s2/0"} {
				nextOff[key] += 3
			}
			continue
		}
		corr, resp := pc.read(p.v)
		require.Equal(t, p.corr, corr, "answers in request order")
		require.Len(t, resp.Responses, 3)
		for _, tr := range resp.Responses {
			want := p.want[string(tr.Name)]
			require.Len(t, tr.PartitionResponses, len(want), "topic %s", tr.Name)
			for k, pr := range tr.PartitionResponses {
				require.Equal(t, want[k], pr.ErrorCode, "request %d topic %s partition %d: %v", corr, tr.Name, pr.Index, pr.ErrorMessage)
				if pr.ErrorCode != 0 {
					require.EqualValues(t, -1, pr.BaseOffset)
					continue
				}
				key := fmt.Sprintf("%s/%d", tr.Name, pr.Index)
				require.Equal(t, nextOff[key], pr.BaseOffset, "%s: offsets follow without gaps", key)
				nextOff[key] += 3
			}
		}
	}
	// The connection is still in step: one more request after all that.
	pc.write(produceFrame(t, 999, 9, "pipelined", &protocol.ProduceRequest{Acks: 1, TimeoutMs: 5000,
		TopicData: []protocol.ProduceRequestTopicProduceData{{Name: "s2", PartitionData: []protocol.ProduceRequestPartitionProduceData{
			partitionData(0, testBatch(t, "last", 1, 10, -1, 0, 0)),
		}}}}))
	corr, resp := pc.read(9)
	require.EqualValues(t, 999, corr)
	require.EqualValues(t, 0, resp.Responses[0].PartitionResponses[0].ErrorCode)
	wantS2 = append(wantS2, "last-0")

	got := map[int32][]string{}
	for _, r := range consumeAll(t, n.addr, "s1", len(wantS1[0])+len(wantS1[1]), kgo.FetchMaxWait(100*time.Millisecond)) {
		got[r.Partition] = append(got[r.Partition], strings.TrimRight(string(r.Value), "x"))
	}
	require.Equal(t, wantS1[0], got[0])
	require.Equal(t, wantS1[1], got[1])
	require.Empty(t, got[2], "rejected batches are not appended")
	var gotS2 []string
	for _, r := range consumeAll(t, n.addr, "s2", len(wantS2), kgo.FetchMaxWait(100*time.Millisecond)) {
		gotS2 = append(gotS2, strings.TrimRight(string(r.Value), "x"))
	}
	require.Equal(t, wantS2, gotS2)
}

// TestProduceStreamedIdempotent pipelines idempotent requests over two
// partitions: in-order sequences append, a retried request is answered with
// the offsets of the original append without appending again, and a gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER, all checked per partition in one request.
func TestProduceStreamedIdempotent(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "idem", 2, nil)
	rc := dialRaw(t, n.addr)
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionTimeoutMillis = 60000
	ipr := rc.do(ip, 4).(*kmsg.InitProducerIDResponse)
	require.EqualValues(t, 0, ipr.ErrorCode)
	pid, epoch := ipr.ProducerID, ipr.ProducerEpoch

	req := func(seq0, seq1 int32, tag string) *protocol.ProduceRequest {
		return &protocol.ProduceRequest{Acks: -1, TimeoutMs: 5000, TopicData: []protocol.ProduceRequestTopicProduceData{
			{Name: "idem", PartitionData: []protocol.ProduceRequestPartitionProduceData{
				partitionData(0, testBatch(t, tag+"-p0", 3, 2000, pid, epoch, seq0)),
				partitionData(1, testBatch(t, tag+"-p1", 3, 2000, pid, epoch, seq1)),
			}},
		}}
	}
	pc := dialProduce(t, n.addr)
	pc.write(
		produceFrame(t, 1, 9, "idem", req(0, 0, "a")),
		produceFrame(t, 2, 9, "idem", req(3, 3, "b")),
		produceFrame(t, 3, 9, "idem", req(0, 3, "dup")),  // both retries: a's p0, b's p1
		produceFrame(t, 4, 9, "idem", req(6, 10, "c")),   // p1 skips ahead
		produceFrame(t, 5, 9, "idem", req(9, 6, "d")),    // both in order again
		produceFrame(t, 6, 9, "idem", req(12, 99, "e")),  // p1 gap again
		produceFrame(t, 7, 11, "idem", req(15, 9, "f")),  // another version, in order
		produceFrame(t, 8, 11, "idem", req(15, 12, "g")), // p0 retry of f, p1 in order
	)
	type answer struct {
		code int16
		base int64
	}
	want := [][2]answer{
		{{0, 0}, {0, 0}},
		{{0, 3}, {0, 3}},
		{{0, 0}, {0, 3}},
		{{0, 6}, {errcode.OutOfOrderSequenceNumber, -1}},
		{{0, 9}, {0, 6}},
		{{0, 12}, {errcode.OutOfOrderSequenceNumber, -1}},
		{{0, 15}, {0, 9}},
		{{0, 15}, {0, 12}},
	}
	for i, w := range want {
		v := int16(9)
		if i >= 6 {
			v = 11
		}
		corr, resp := pc.read(v)
		require.EqualValues(t, i+1, corr)
		for p, pr := range resp.Responses[0].PartitionResponses {
			require.Equal(t, w[p].code, pr.ErrorCode, "request %d partition %d", corr, p)
			require.Equal(t, w[p].base, pr.BaseOffset, "request %d partition %d", corr, p)
		}
	}
	got := map[int32][]string{}
	for _, r := range consumeAll(t, n.addr, "idem", 18+15, kgo.FetchMaxWait(100*time.Millisecond)) {
		got[r.Partition] = append(got[r.Partition], strings.TrimRight(string(r.Value), "x"))
	}
	expect := func(tags ...string) []string {
		var out []string
		for _, tag := range tags {
			for j := range 3 {
				out = append(out, fmt.Sprintf("%s-%d", tag, j))
			}
		}
		return out
	}
	require.Equal(t, expect("a-p0", "b-p0", "c-p0", "d-p0", "e-p0", "f-p0"), got[0])
	require.Equal(t, expect("a-p1", "b-p1", "d-p1", "f-p1", "g-p1"), got[1])
}

// TestProduceStreamedBrokenBody cuts requests off mid-body. A client that
// disconnects, or sends a malformed tail, loses its connection; the
// partitions appended before the break stay whole, the one being read is not
// appended at all, and everyone else carries on.
func TestProduceStreamedBrokenBody(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "cut", 2, nil)
	first := testBatch(t, "first", 4, 100<<10, -1, 0, 0)
	second := testBatch(t, "second", 4, 100<<10, -1, 0, 0)
	full := produceFrame(t, 1, 9, "cut", &protocol.ProduceRequest{Acks: 1, TimeoutMs: 5000,
		TopicData: []protocol.ProduceRequestTopicProduceData{{Name: "cut", PartitionData: []protocol.ProduceRequestPartitionProduceData{
			partitionData(0, first), partitionData(1, second),
		}}}})

	t.Run("disconnect", func(t *testing.T) {
		pc := dialProduce(t, n.addr)
		pc.write(full[:len(full)-len(second)/2]) // half of partition 1's records
		require.NoError(t, pc.c.Close())
	})
	t.Run("malformed tail", func(t *testing.T) {
		// Topic "cut" is whole; the second topic's name then has length -5.
		req := &protocol.ProduceRequest{Acks: 1, TimeoutMs: 5000, TopicData: []protocol.ProduceRequestTopicProduceData{
			{Name: "cut", PartitionData: []protocol.ProduceRequestPartitionProduceData{partitionData(0, first)}},
			{Name: "zz", PartitionData: []protocol.ProduceRequestPartitionProduceData{partitionData(1, second)}},
		}}
		b := produceFrame(t, 2, 7, "cut", req)
		at := len(b) - len(second) - 4 - 4 - 4 - 2 - 2 // zz's length: name, partition count, index, records size
		require.Equal(t, []byte{0, 2, 'z', 'z'}, b[at:at+4])
		b[at], b[at+1] = 0xff, 0xfb
		pc := dialProduce(t, n.addr)
		pc.write(b)
		expectClosed(t, pc.c)
	})

	// Both connections ended; the broker serves on, and partition 0 holds
	// the two copies of "first" (one per broken request), partition 1
	// nothing of "second".
	good := newClient(t, n.addr, kgo.DefaultProduceTopic("cut"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Both broken requests appended partition 0 before the break.
	adm := kadm.NewClient(good)
	require.Eventually(t, func() bool {
		ends, err := adm.ListEndOffsets(ctx, "cut")
		if err != nil {
			return false
		}
		o, _ := ends.Lookup("cut", 0)
		return o.Offset == 8
	}, 10*time.Second, 20*time.Millisecond)
	for _, p := range []int32{0, 1} {
		require.NoError(t, good.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("after")}).FirstErr())
	}
	got := map[int32][]string{}
	for _, r := range consumeAll(t, n.addr, "cut", 4+4+2, kgo.FetchMaxWait(100*time.Millisecond)) {
		got[r.Partition] = append(got[r.Partition], strings.TrimRight(string(r.Value), "x"))
	}
	require.Equal(t, []string{"first-0", "first-1", "first-2", "first-3", "first-0", "first-1", "first-2", "first-3", "after"}, got[0])
	require.Equal(t, []string{"after"}, got[1])
}
